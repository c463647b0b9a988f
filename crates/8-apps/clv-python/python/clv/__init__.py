"""Customer lifetime value at Rust speed, with lifetimes' API.

Switch a notebook by changing its imports::

    from clv import BetaGeoFitter, GammaGammaFitter
    from clv.utils import summary_data_from_transaction_data

and use clv's own valuation (automatic model choice, intervals, expected next-order date) with
:func:`score`.
"""
import pandas as pd

from . import _clv, _frames, utils
from .fitters import (BetaGeoBetaBinomFitter, BetaGeoFitter, ConvergenceError, GammaGammaFitter,
                      ModifiedBetaGeoFitter, ParetoNBDFitter, fit, load_model)
from .utils import calibration_and_holdout_data, summary_data_from_transaction_data

__all__ = ["BetaGeoFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter", "BetaGeoBetaBinomFitter",
           "GammaGammaFitter", "ConvergenceError", "summary_data_from_transaction_data",
           "calibration_and_holdout_data", "fit", "load_model", "score", "read_orders", "utils"]

_DAY = 86_400


def score(transactions, customer_id_col, datetime_col, monetary_value_col, *,
          observation_period_end=None, model="auto", time_unit="week", horizon_days=365,
          annual_discount_rate=0.1, level=0.9, bootstrap_draws=0, seed=0, penalizer_coef=0.0,
          datetime_format=None, strict=False, threads=None):
    """What ``clv score`` computes, per customer: P(alive), expected purchases and spend,
    discounted CLV over ``horizon_days`` at ``annual_discount_rate``, the expected next-order
    date, each with an interval at ``level`` (0 for none; ``bootstrap_draws`` > 0 for bootstrap
    intervals). ``model`` is "auto" (BG/NBD, MBG/NBD or Pareto/NBD by BIC) or any model name.
    ``attrs["clv_report"]["description"]`` says which model was chosen and why."""
    customers, original_ids, times, values, end = _frames.orders(
        transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format,
        observation_period_end)
    # A date means the whole day.
    end = end - end % _DAY + _DAY - 1 if end % _DAY == 0 else end
    batch, text = _clv.value(customers, times, values, end, model, time_unit, float(horizon_days),
                             float(annual_discount_rate), float(level), int(bootstrap_draws),
                             int(seed), float(penalizer_coef), _frames.threads(threads))
    report = _frames.report(text, strict, "score")
    index = pd.Index(original_ids(batch.column("customer_id")), name=customer_id_col)
    out = batch.drop_columns(["customer_id"]).to_pandas()
    out.index = index
    out.attrs["clv_report"] = report
    return _frames.like_input(out, transactions)


def read_orders(path, customer_col=None, date_col=None, amount_col=None, *, order_col=None,
                sku_col=None, quantity_col=None, price_col=None, delimiter=None, header=None,
                decimal=None, encoding=None, datetime_format=None, timezone="UTC", strict=False):
    """An order file read the way the ``clv`` CLI reads it: CSV, TSV, ``;``/``|``-separated or
    whitespace-aligned text (also ``.gz``/``.zst``, UTF-8 or Windows-1252) or Parquet, with the
    delimiter, header, columns (by name, else detected; ints are 1-based positions), decimal mark
    (``"point"``/``"comma"``) and encoding detected unless given. Returns a pandas DataFrame with
    ``customer_id``, ``date`` (shop-local time in ``timezone``), ``amount`` (net: returns are
    negative), and ``order_id``, ``sku``, ``quantity`` when the file has them, ready for
    :func:`clv.utils.summary_data_from_transaction_data`. Rows that cannot be used are left out
    and explained in a warning (file, line, column, value, why and what to do); ``strict=True``
    raises at the first. ``attrs["clv_report"]`` holds what was detected and counted."""
    def column(c):
        return None if c is None else str(c)

    batch, text = _clv.read_orders(
        str(path), column(customer_col), column(date_col), column(amount_col), column(order_col),
        column(sku_col), column(quantity_col), column(price_col), delimiter, header, decimal,
        encoding, datetime_format, timezone, bool(strict))
    report = _frames.report(text, False, str(path))
    out = pd.DataFrame({
        "customer_id": batch.column("customer").to_numpy(zero_copy_only=False),
        "date": batch.column("time").to_numpy().astype("datetime64[s]"),
        "amount": batch.column("amount").to_numpy(),
    })
    mapped = {role for role, _ in report["read"]["mapping"]["columns"]}
    for name, role in (("order_id", "order"), ("sku", "sku"), ("quantity", "quantity")):
        if role in mapped:
            values = batch.column(role)
            out[name] = values.to_numpy(zero_copy_only=False)
    out.attrs["clv_report"] = report
    return out
