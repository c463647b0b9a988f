"""lifetimes' fitters on clv's models: the same classes, arguments, attributes and numbers, with
the fitting and every prediction in Rust.

Differences from lifetimes, on purpose:

- The fit reaches the maximum of the likelihood (L-BFGS with analytic gradients and restarts), so
  ``initial_params``, ``tol`` and scipy options are accepted and ignored; a fit that does not
  converge raises ``ConvergenceError`` with the reason.
- ``summary``'s 95% bounds are symmetric on the log scale, so they stay positive (lifetimes'
  ``coef ± 1.96·se`` can go below zero); ``variance_matrix_`` is the covariance itself
  (lifetimes scales its rows and columns unevenly).
- ``penalizer_coef`` is an L2 penalty on the parameters per customer, as in lifetimes, but on the
  parameters in your time unit (lifetimes rescales time first for BG/NBD, MBG/NBD and
  Pareto/NBD), so penalised fits differ slightly.
- ``customer_lifetime_value`` knows the time unit the model was fitted in when the data came from
  :mod:`clv.utils`, and refuses a ``freq`` that contradicts it (lifetimes' default ``freq="D"``
  silently gives a wrong CLV for a model fitted in weeks).
"""
import json
import warnings

import numpy as np
import pandas as pd

from . import _clv, _frames

__all__ = ["BetaGeoFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter", "BetaGeoBetaBinomFitter",
           "GammaGammaFitter", "ConvergenceError"]


class ConvergenceError(ValueError):
    """The model could not be fitted to these data; the message says why."""


# lifetimes' month lengths in each `freq` (its `customer_lifetime_value`).
_UNITS_PER_MONTH = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24}


# clv's time units for lifetimes' (freq, freq_multiplier) summaries.
_TIME_UNITS = {("H", 1): "hour", ("D", 1): "day", ("D", 7): "week", ("W", 1): "week",
               ("M", 1): "month", ("Y", 1): "year"}


def _time_unit_of(series):
    """The clv time unit ("day", "week", ...) of a summary column from clv.utils, if known."""
    unit = getattr(series, "attrs", {}).get("clv_time_unit")
    return None if unit is None else _TIME_UNITS.get((unit[0], unit[1]))


def _freq_of(series):
    """The ("D", 7)-style time unit clv.utils recorded on a summary column, if any."""
    unit = getattr(series, "attrs", {}).get("clv_time_unit")
    if unit is None:
        return None
    freq, multiplier = unit
    if multiplier == 1:
        return freq
    if freq == "D" and multiplier == 7:
        return "W"
    return None


def _native_fit(model, columns, weights, penalizer_coef, threads, time_unit):
    """The native fit of ``model`` on ``columns``: its report, saved model and the columns as
    float64 numpy arrays."""
    time_unit = time_unit or _time_unit_of(columns[0])
    values = [_frames.numbers(c) for c in columns]
    arrays = [_frames.floats(v) for v in values]
    weight_array = None if weights is None else _frames.floats(weights)
    try:
        text, saved = _clv.fit(model, arrays, weight_array, float(penalizer_coef),
                               _frames.threads(threads), time_unit)
    except ValueError as e:
        raise ConvergenceError(str(e)) from None
    return json.loads(text), saved, values


class _Fitter:
    _model = None
    _param_names = ()
    _native_names = ()
    _columns = ()

    def __init__(self, penalizer_coef=0.0):
        self.penalizer_coef = penalizer_coef

    def __repr__(self):
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<clv.{name}>"
        params = ", ".join(f"{k}: {v:.2f}" for k, v in self.params_.items())
        return f"<clv.{name}: fitted with {self._report['customers']:.0f} subjects, {params}>"

    def _fit(self, columns, weights, index, threads, time_unit=None):
        report, saved, values = _native_fit(self._model, columns, weights, self.penalizer_coef,
                                            threads, time_unit)
        return self._take(report, saved, values, weights, index)

    def _take(self, report, saved, values, weights, index):
        """Take a native fit's report: parameters, errors, intervals, the data fitted."""
        self._take_report(report, saved)
        data = dict(zip(self._columns, values))
        data["weights"] = (np.ones(len(values[0])) if weights is None
                           else _frames.numbers(weights))
        self.data = pd.DataFrame(data, index=index)
        return self

    def _take_report(self, report, saved):
        self._report, self._saved = report, saved
        names = list(self._param_names)
        self.params_ = pd.Series(report["params"], index=names, dtype=float)
        self.standard_errors_ = pd.Series(report["standard_errors"], index=names, dtype=float)
        self.variance_matrix_ = pd.DataFrame(report["covariance"], index=names, columns=names)
        self.confidence_intervals_ = pd.DataFrame(
            {"lower 95% bound": report["lower_95"], "upper 95% bound": report["upper_95"]},
            index=names)
        self.log_likelihood_ = report["log_likelihood"]
        for warning in report.get("undetermined", []):
            warnings.warn(f"{type(self).__name__}: the data do not determine {warning}",
                          stacklevel=4)

    def _params(self):
        if not hasattr(self, "params_"):
            raise ValueError("Model has not been fit yet. Please call the .fit method first.")
        return [float(v) for v in self.params_.to_numpy()]

    def _predict(self, quantity, *args, threads=None, **options):
        arrays, shape, index = _frames.broadcast(*args)
        result = _clv.predict(self._model, self._params(), quantity, arrays,
                              threads=_frames.threads(threads), **options)
        return _frames.shaped(result, shape, index)

    @property
    def summary(self):
        """coef, se(coef) and the 95% bounds of every parameter."""
        self._params()
        frame = pd.DataFrame(index=self.params_.index)
        frame["coef"] = self.params_
        frame["se(coef)"] = self.standard_errors_
        frame["lower 95% bound"] = self.confidence_intervals_["lower 95% bound"]
        frame["upper 95% bound"] = self.confidence_intervals_["upper 95% bound"]
        return frame

    def print_summary(self):
        print(self.summary)

    def save_model(self, path):
        """Write the fitted model in clv's saved-model JSON (not lifetimes' pickle), which
        ``clv score --model-file`` and the service read. The time unit comes from the summary
        (clv.utils) or ``fit(..., time_unit="week")``."""
        self._params()
        if self._saved is None:
            raise ValueError("the time unit of the fitted data is not known: fit a summary from "
                             "clv.utils, or pass time_unit= ('day', 'week', 'month', ...) to fit")
        with open(path, "w", encoding="utf-8") as out:
            out.write(self._saved)


class _PurchaseFitter(_Fitter):
    _columns = ("frequency", "recency", "T")
    _param_names = ("r", "alpha", "a", "b")

    def fit(self, frequency, recency, T, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, threads=None, time_unit=None, **kwargs):
        """Fit to customers' repeat purchases, recency and age (any one time unit; name it with
        ``time_unit`` to save the model when the summary is not from clv.utils)."""
        self._freq = _freq_of(frequency)
        return self._fit((frequency, recency, T), weights, index, threads, time_unit)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """Expected purchases in the next ``t`` of customers with these histories."""
        return self._predict("conditional_expected", t, frequency, recency, T)

    predict = conditional_expected_number_of_purchases_up_to_time

    def conditional_probability_alive(self, frequency, recency, T):
        """Probability each customer is still active."""
        return self._predict("p_alive", frequency, recency, T)

    def conditional_probability_alive_matrix(self, max_frequency=None, max_recency=None):
        """P(alive) over a grid of histories, as lifetimes' plots draw it: row ``i`` is recency
        ``i``, column ``j`` frequency ``j``, every customer observed for ``max_recency`` (by
        default the fitted data's largest frequency and T)."""
        if (max_frequency is None or max_recency is None) and len(self.data) == 0:
            raise ValueError("a loaded model has no data: pass max_frequency and max_recency")
        max_frequency = int(self.data["frequency"].max()) if max_frequency is None \
            else int(max_frequency)
        max_recency = int(self.data["T"].max()) if max_recency is None else int(max_recency)
        frequency = np.arange(max_frequency + 1, dtype=float)[None, :]
        recency = np.arange(max_recency + 1, dtype=float)[:, None]
        return self.conditional_probability_alive(frequency, recency, float(max_recency))

    def expected_number_of_purchases_up_to_time(self, t):
        """Expected repeat purchases of a new customer by ``t``."""
        return self._predict("expected_new", t)

    def probability_of_n_purchases_up_to_time(self, t, n):
        """Probability a new customer makes exactly ``n`` repeat purchases by ``t``."""
        return self._predict("probability_new", t, n=int(n))


class BetaGeoFitter(_PurchaseFitter):
    """BG/NBD (Fader, Hardie & Lee 2005)."""
    _model = "bgnbd"


class ModifiedBetaGeoFitter(_PurchaseFitter):
    """MBG/NBD (Batislam et al. 2007): customers may also drop out right after the first order."""
    _model = "mbgnbd"


class ParetoNBDFitter(_PurchaseFitter):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987)."""
    _model = "pareto"
    _param_names = ("r", "alpha", "s", "beta")

    def conditional_probability_of_n_purchases_up_to_time(self, n, t, frequency, recency, T):
        """Probability each customer makes exactly ``n`` purchases in the next ``t``."""
        return self._predict("conditional_probability", t, frequency, recency, T, n=int(n))


class BetaGeoBetaBinomFitter(_Fitter):
    """BG/BB (Fader, Hardie & Shang 2010) for discrete purchase opportunities."""
    _model = "bgbb"
    _columns = ("frequency", "recency", "n_periods")
    _param_names = ("alpha", "beta", "gamma", "delta")

    def fit(self, frequency, recency, n_periods, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, threads=None, **kwargs):
        """Fit to purchases in ``n_periods`` opportunities, the last at ``recency``."""
        return self._fit((frequency, recency, n_periods), weights, index, threads)

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future, frequency,
                                                            recency, n_periods):
        """Expected purchases in the next ``m_periods_in_future`` opportunities."""
        return self._predict("conditional_expected", m_periods_in_future, frequency, recency,
                             n_periods)

    def conditional_probability_alive(self, m_periods_in_future, frequency, recency, n_periods):
        """Probability each customer is still active ``m_periods_in_future`` from now."""
        return self._predict("p_alive", m_periods_in_future, frequency, recency, n_periods)

    def expected_number_of_transactions_in_first_n_periods(self, n):
        """Customers expected to make each observed number of purchases in the first ``n``
        opportunities (lifetimes' in-sample check), indexed by ``frequency``."""
        counts = self.data.groupby("frequency")["weights"].sum()
        x = np.asarray(counts.index)
        model = [float(self._predict("probability_new", float(n), n=int(k))) for k in x]
        return pd.DataFrame({"model": np.asarray(model) * counts.sum()},
                            index=pd.Index(x, name="frequency"))


class GammaGammaFitter(_Fitter):
    """Gamma-Gamma spend per purchase (Colombo & Jiang 1999; Fader, Hardie & Lee 2005)."""
    _model = "gg"
    _columns = ("frequency", "monetary_value")
    _param_names = ("p", "q", "v")

    def fit(self, frequency, monetary_value, weights=None, initial_params=None, verbose=False,
            tol=1e-7, index=None, q_constraint=False, threads=None, time_unit=None, **kwargs):
        """Fit to repeat buyers' number of repeat purchases and their mean value."""
        return self._fit((frequency, monetary_value), weights, index, threads,
                         time_unit or _time_unit_of(frequency) or "week")

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """Expected value per purchase of each customer (the fitted data by default)."""
        frequency = self.data["frequency"] if frequency is None else frequency
        monetary_value = self.data["monetary_value"] if monetary_value is None else monetary_value
        return self._predict("expected_spend", frequency, monetary_value)

    def customer_lifetime_value(self, transaction_prediction_model, frequency, recency, T,
                                monetary_value, time=12, discount_rate=0.01, freq=None):
        """lifetimes' CLV: ``time`` months of expected purchases times expected spend, each
        month discounted at ``discount_rate``. ``freq`` is the time unit the purchase model was
        fitted in ("H", "D", "W" or "M"); known when its data came from :mod:`clv.utils`."""
        known = getattr(transaction_prediction_model, "_freq", None) or _freq_of(T)
        if freq is None:
            if known is None:
                warnings.warn("customer_lifetime_value: the purchase model's time unit is not "
                              "known; taking days as lifetimes does. Pass freq= to be sure.",
                              stacklevel=2)
            freq = known or "D"
        elif known is not None and freq != known:
            raise ValueError(f"freq={freq!r}, but the purchase model was fitted in "
                             f"{known!r} units: the CLV would be wrong; pass freq={known!r}")
        if freq not in _UNITS_PER_MONTH:
            raise ValueError(f"freq {freq!r}: use one of {sorted(_UNITS_PER_MONTH)}")
        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        if isinstance(transaction_prediction_model, _PurchaseFitter):
            purchases = transaction_prediction_model._predict(
                "discounted_monthly", frequency, recency, T, months=int(time),
                units_per_month=_UNITS_PER_MONTH[freq], monthly_rate=float(discount_rate))
        else:
            # Another library's model: its own predictions, lifetimes' sum.
            factor = _UNITS_PER_MONTH[freq]
            purchases = 0.0
            for k in range(1, int(time) + 1):
                step = (transaction_prediction_model.predict(k * factor, frequency, recency, T)
                        - transaction_prediction_model.predict((k - 1) * factor, frequency,
                                                               recency, T))
                purchases = purchases + step / (1 + discount_rate) ** k
        clv = np.asarray(spend) * np.asarray(purchases)
        index = frequency.index if isinstance(frequency, pd.Series) else None
        return pd.Series(clv, index=index, name="clv")


# Each fitter by its model's key, as the native fit reports it and saved models name it.
_FITTERS = {cls._model: cls for cls in (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter,
                                        BetaGeoBetaBinomFitter, GammaGammaFitter)}


def fit(frequency, recency, T, model="auto", weights=None, penalizer_coef=0.0, index=None,
        threads=None, time_unit=None):
    """Fit a purchase model to a summary's columns and return its fitter. ``model="auto"``
    fits BG/NBD, MBG/NBD and Pareto/NBD and keeps the lowest BIC (preferring models whose
    parameters the data determines), as ``clv fit --model auto`` does; ``model_choice_`` says
    why. Any other model name fits that model."""
    report, saved, values = _native_fit(_clv.purchase_model(str(model)),
                                        (frequency, recency, T), weights, penalizer_coef,
                                        threads, time_unit)
    fitted = _FITTERS[report["model"]](penalizer_coef)
    fitted._freq = _freq_of(frequency)
    fitted.model_choice_ = report.get("choice")
    return fitted._take(report, saved, values, weights, index)


_FREQ_OF_UNIT = {"hour": "H", "day": "D", "week": "W", "month": "M"}


def load_model(path):
    """A model saved by ``save_model``, ``clv fit -o`` or the service, as its fitter: parameters,
    errors and predictions (its ``data`` is empty: a saved model keeps only a fingerprint of the
    data it was fitted on). Its time unit goes with it, so ``customer_lifetime_value`` needs no
    ``freq``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    saved = json.loads(text)
    if saved.get("format") != "clv-model":
        raise ValueError(f"{path}: not a clv saved model (no \"format\": \"clv-model\")")
    kind = saved.get("kind")
    if kind not in _FITTERS:
        raise ValueError(f"{path}: model kind {kind!r} has no fitter here "
                         f"(one of {', '.join(_FITTERS)})")
    fitted = _FITTERS[kind]()
    fitted.penalizer_coef = saved["fit"].get("penalty", 0.0)
    fitted._take_report(saved["fit"], text)
    fitted._freq = _FREQ_OF_UNIT.get(saved.get("time_unit"))
    fitted.data = pd.DataFrame({c: np.array([], dtype=float)
                                for c in fitted._columns + ("weights",)})
    return fitted
