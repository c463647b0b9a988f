"""clv on Spark: the summary, fit and scores of order logs too big for one machine, computed by the
same engine as the CLI and :mod:`clv`.

Three calls, DataFrame API only (``repartition``, ``mapInArrow``, ``groupBy``), so they run on a
cluster, on local Spark and over Spark Connect alike:

- :func:`summarize` sends every customer's orders to one partition and runs clv's ledger on each
  partition as its Arrow batches stream in: an executor holds its customers' purchase periods,
  never the rows.
- :func:`fit` compresses the summary to distinct (frequency, recency, T) patterns with their counts
  (a ``groupBy``) and fits on the driver with the weights: the same likelihood as fitting every
  customer, at the cost of the distinct patterns.
- :func:`score` maps each summary batch through the fitted models.

Every executor needs the ``clv`` package (the wheel) in the Python that runs its workers.
"""
import json
from collections import namedtuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _clv, fitters

__all__ = ["summarize", "fit", "score", "Summary"]

Summary = namedtuple("Summary", ["frame", "report"])
Summary.__doc__ = """The summary DataFrame and the report of the whole log: the ledger's counts
(lines, returns netted, lines after the end) summed over partitions, and the rows left out with
their reasons."""

_SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]

def _local_seconds(column, tz):
    """An Arrow date or timestamp column as wall-clock seconds in ``tz`` (timestamps carry an
    instant; dates are already local)."""
    kind = column.type
    if pa.types.is_date(kind):
        days = pc.cast(column, pa.date32()).view(pa.int32())
        return pc.multiply(pc.cast(days, pa.int64()), 86_400)
    if not pa.types.is_timestamp(kind):
        raise TypeError(f"the date column is {kind}: give a date or timestamp column "
                        "(F.to_timestamp parses text)")
    if kind.tz is not None or tz is not None:
        instant = column if kind.tz is not None else pc.assume_timezone(column, "UTC")
        column = pc.local_timestamp(pc.cast(instant, pa.timestamp(kind.unit, tz or kind.tz)))
    return pc.cast(pc.cast(column, pa.timestamp("s")), pa.int64())


def _ids(column):
    """Ids as int64 or text, the two kinds the ledger takes."""
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.int64())
    if pa.types.is_large_string(column.type) or pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _default_partitions(spark):
    """One ledger per core the session has: the classic session's default parallelism, else
    ``spark.default.parallelism``, else the shuffle partitions. Spark's 200 shuffle partitions
    would each start a Python task (about 0.1 s apiece) and the cached result keeps them all:
    on 2 cores and 1,000,000 orders that made the summary, fit and scores 72 s instead of 9."""
    try:
        return max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect has no SparkContext
        pass
    for key in ("spark.default.parallelism", "spark.sql.shuffle.partitions"):
        value = spark.conf.get(key, None)
        if value:
            return max(1, int(value))
    return 200


def summarize(orders, customer="customer_id", time="date", amount="amount", end=None,
              freq="D", freq_multiplier=1, tz=None, include_first_transaction=False,
              partitions=None):
    """lifetimes' summary (``customer``, ``frequency``, ``recency``, ``T``, ``monetary_value``) of
    an order DataFrame. ``time`` is a date or timestamp column (timestamps are taken in ``tz``,
    else the session's zone); ``end`` is the observation end (default: the last order), and like
    lifetimes every order in its period counts. ``partitions`` sets how many partitions the
    customers are hashed into (default: one per core, see :func:`_default_partitions`; more
    partitions hold fewer customers each, so raise it when a partition's customers do not fit
    an executor's memory). Returns :class:`Summary` (the frame is cached:
    the report's count and any later use read it once)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if end is None:
        end = orders.agg(F.max(time)).first()[0]
    stamp = pd.Timestamp(end)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(tz).tz_localize(None) if tz else stamp.tz_localize(None)
    observation_end = int(stamp.value // 1_000_000_000)
    columns = [F.col(customer).alias("c"), F.col(time).alias("t")]
    if amount:
        columns.append(F.col(amount).cast("double").alias("v"))
    keyed = orders.select(*columns)
    keyed = keyed.repartition(partitions or _default_partitions(orders.sparkSession), "c")
    multiplier, include_first = float(freq_multiplier), bool(include_first_transaction)

    def per_partition(batches):
        from . import _clv

        ledger = _clv.Ledger(freq, multiplier, observation_end, include_first, 1)
        for batch in batches:
            values = batch.column("v") if amount else None
            ledger.push(_ids(batch.column("c")), _local_seconds(batch.column("t"), tz), values)
        summary, report = ledger.finish()
        n = summary.num_rows
        if n:
            yield pa.RecordBatch.from_arrays(
                [pc.cast(summary.column("customer"), pa.string())]
                + [summary.column(c) for c in _SUMMARY_COLUMNS]
                + [pa.nulls(n, pa.string())],
                names=["customer"] + _SUMMARY_COLUMNS + ["report"])
        # The partition's report rides in one extra row without a customer.
        yield pa.RecordBatch.from_arrays(
            [pa.nulls(1, pa.string())] + [pa.nulls(1, pa.float64()) for _ in _SUMMARY_COLUMNS]
            + [pa.array([report])],
            names=["customer"] + _SUMMARY_COLUMNS + ["report"])

    schema = T.StructType([T.StructField("customer", T.StringType())]
                          + [T.StructField(c, T.DoubleType()) for c in _SUMMARY_COLUMNS]
                          + [T.StructField("report", T.StringType())])
    both = keyed.mapInArrow(per_partition, schema).cache()
    reports = [json.loads(r[0]) for r in both.filter(F.col("customer").isNull())
               .select("report").collect()]
    frame = both.filter(F.col("customer").isNotNull()).drop("report") \
        .withColumnRenamed("customer", customer)
    return Summary(frame, _merge_reports(reports))


def _merge_reports(reports):
    """The partitions' reports as one: counts summed, a few examples of rows left out."""
    ledger, counts, examples = {}, {}, []
    for r in reports:
        for key, value in (r.get("ledger") or {}).items():
            ledger[key] = ledger.get(key, 0) + value
        for reason, n in r["rejected"]["counts"].items():
            counts[reason] = counts.get(reason, 0) + n
        examples.extend(e["reason"] for e in r["rejected"]["examples"])
    return {"ledger": ledger, "rejected": {"counts": counts, "examples": examples[:10]},
            "partitions": len(reports)}


def fit(summary, model="bgnbd", penalizer_coef=0.0):
    """Fit a purchase model ("bgnbd", "mbgnbd", "pareto", any of clv's names for them, or "auto":
    the lowest BIC, as :func:`clv.fit`) or Gamma-Gamma ("gg", on repeat buyers) to a summary
    DataFrame from :func:`summarize`; returns the fitted :mod:`clv` fitter
    (parameters, standard errors, predictions), the same numbers as fitting every customer."""
    from pyspark.sql import functions as F

    if isinstance(summary, Summary):
        summary = summary.frame
    if model in ("gg", "gamma-gamma"):
        patterns = (summary.filter(F.col("frequency") > 0)
                    .groupBy("frequency", "monetary_value").count().toPandas())
        fitted = fitters.GammaGammaFitter(penalizer_coef)
        return fitted.fit(patterns["frequency"], patterns["monetary_value"],
                          weights=patterns["count"].astype(float))
    # A name that is no purchase model is refused before the job, with the library's reason.
    _clv.purchase_model(str(model))
    patterns = summary.groupBy("frequency", "recency", "T").count().toPandas()
    return fitters.fit(patterns["frequency"], patterns["recency"], patterns["T"], model=model,
                       weights=patterns["count"].astype(float), penalizer_coef=penalizer_coef)


def score(summary, model, horizon=52.0, spend_model=None, months=12, discount_rate=0.01,
          freq="W", customer=None):
    """Every customer's ``p_alive`` and ``expected_purchases`` over ``horizon`` (the model's
    time units), and with a fitted Gamma-Gamma ``spend_model`` their ``expected_spend`` and
    lifetimes' ``clv`` over ``months`` months at the monthly ``discount_rate`` (``freq``: the
    unit the model was fitted in). A ``mapInArrow`` over the summary."""
    from pyspark.sql import types as T

    if isinstance(summary, Summary):
        summary = summary.frame
    customer = customer or summary.columns[0]
    names = ["p_alive", "expected_purchases"] + (["expected_spend", "clv"] if spend_model else [])
    params = model.params_.copy()
    spend_params = spend_model.params_.copy() if spend_model is not None else None
    model_class, spend_class = type(model), type(spend_model)

    def per_batch(batches):
        purchase = model_class()
        purchase.params_ = params
        spend = None
        if spend_params is not None:
            spend = spend_class()
            spend.params_ = spend_params
        for batch in batches:
            x, t_x, big_t = (batch.column(c).to_numpy(zero_copy_only=False)
                             for c in ("frequency", "recency", "T"))
            out = [purchase.conditional_probability_alive(x, t_x, big_t),
                   purchase.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x,
                                                                                big_t)]
            if spend is not None:
                m = batch.column("monetary_value").to_numpy(zero_copy_only=False)
                out.append(spend.conditional_expected_average_profit(x, m))
                out.append(np.asarray(spend.customer_lifetime_value(
                    purchase, x, t_x, big_t, m, time=months, discount_rate=discount_rate,
                    freq=freq)))
            yield pa.RecordBatch.from_arrays(
                [batch.column(customer)] + [pa.array(np.asarray(v, dtype=float)) for v in out],
                names=[customer] + names)

    schema = T.StructType([T.StructField(customer, T.StringType())]
                          + [T.StructField(n, T.DoubleType()) for n in names])
    return summary.mapInArrow(per_batch, schema)
