"""lifetimes' data preparation (``lifetimes.utils``) on clv's ledger: the same columns and numbers,
built in Rust.

Differences from lifetimes, on purpose:

- ``freq="W"`` counts Monday-to-Sunday weeks, and an order after ``observation_period_end`` is
  never counted (lifetimes 0.11.3 counts the rest of the last week and can give recency > T).
- A negative amount is a return: it nets into the customer's latest purchase on or before it, and
  a period whose purchases are all returned is not a purchase (lifetimes adds it up as a purchase).
- ``monetary_value_holdout`` is the mean value of holdout purchase periods, as in calibration
  (lifetimes averages the raw holdout rows, so two orders on one day count twice there).
- Rows without a customer, a readable date or a finite amount are left out and explained in a
  warning (``strict=True`` stops at the first), never silently.
"""
import pandas as pd

from . import _clv, _frames

__all__ = ["summary_data_from_transaction_data", "calibration_and_holdout_data"]


def _summarize(transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format,
               observation_period_end, calibration_period_end, freq, freq_multiplier,
               include_first_transaction, strict, threads):
    customers, original_ids, times, values, observation_end = _frames.orders(
        transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format,
        observation_period_end)
    calibration_end = (None if calibration_period_end is None
                       else _frames.instant(calibration_period_end, datetime_format))
    batch, text = _clv.summarize(customers, times, values, freq, float(freq_multiplier),
                                 observation_end, calibration_end, bool(include_first_transaction),
                                 _frames.threads(threads))
    report = _frames.report(text, strict, "summary")
    index = pd.Index(original_ids(batch.column("customer")), name=customer_id_col)
    out = batch.drop_columns(["customer"]).to_pandas()
    out.index = index
    out.attrs["clv_report"] = report
    out.attrs["clv_time_unit"] = (freq, freq_multiplier)
    return out


def summary_data_from_transaction_data(transactions, customer_id_col, datetime_col,
                                       monetary_value_col=None, datetime_format=None,
                                       observation_period_end=None, freq="D", freq_multiplier=1,
                                       include_first_transaction=False, *, strict=False,
                                       threads=None):
    """One row per customer: ``frequency`` (repeat purchase periods), ``recency`` (first to last
    purchase period), ``T`` (first purchase period to the end) in ``freq`` units divided by
    ``freq_multiplier``, and ``monetary_value`` (mean value of repeat periods) with a monetary
    column. Same arguments as lifetimes; ``transactions`` may be pandas or polars (the result
    is then polars too, with the customer as a column). ``attrs["clv_report"]`` holds the
    ledger's counts (returns netted, rows left out)."""
    out = _summarize(transactions, customer_id_col, datetime_col, monetary_value_col,
                            datetime_format, observation_period_end, None, freq, freq_multiplier,
                            include_first_transaction, strict, threads)
    if not monetary_value_col:
        out = out.drop(columns=["monetary_value"])
    return _frames.like_input(out, transactions)


def calibration_and_holdout_data(transactions, customer_id_col, datetime_col,
                                 calibration_period_end, observation_period_end=None, freq="D",
                                 freq_multiplier=1, datetime_format=None, monetary_value_col=None,
                                 include_first_transaction=False, *, strict=False, threads=None):
    """lifetimes' calibration summary (``frequency_cal``, ``recency_cal``, ``T_cal``,
    ``monetary_value_cal``) of customers seen by ``calibration_period_end``, with what they did
    up to ``observation_period_end`` (``frequency_holdout``, ``monetary_value_holdout``,
    ``duration_holdout``)."""
    out = _summarize(transactions, customer_id_col, datetime_col, monetary_value_col,
                            datetime_format, observation_period_end, calibration_period_end, freq,
                            freq_multiplier, include_first_transaction, strict, threads)
    out = out.rename(columns={"frequency": "frequency_cal", "recency": "recency_cal",
                              "T": "T_cal", "monetary_value": "monetary_value_cal"})
    order = ["frequency_cal", "recency_cal", "T_cal", "monetary_value_cal", "frequency_holdout",
             "monetary_value_holdout", "duration_holdout"]
    if not monetary_value_col:
        order = [c for c in order if not c.startswith("monetary")]
    return _frames.like_input(out[order], transactions)
