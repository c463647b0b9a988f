"""clv's Python package against lifetimes 0.11.3 (installed in the test environment) on the CDNOW
sample and the donations data: every summary column, every fitted parameter, and every prediction
at the same parameters, equal to lifetimes' own.

Fits come from two optimisers: clv's parameters must equal lifetimes' to 1e-6 (relative) and its
log-likelihood must be at least as high. Predictions are compared at clv's parameters, which are
copied into the lifetimes fitter, so they check the formulas independently of the optimisers.
"""
import os
import subprocess

import lifetimes
import lifetimes.utils
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.optimize

import clv
import clv.utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")


def check(what, ours, theirs, rel=1e-9, abs_=1e-12):
    """Every value of ``ours`` equals ``theirs`` (same shape; Series aligned by index)."""
    if isinstance(theirs, pd.Series) and isinstance(ours, pd.Series):
        assert list(ours.index) == list(theirs.index), f"{what}: customers differ"
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    assert np.isfinite(ours).all(), f"{what}: not finite"
    worst = np.abs(ours - theirs) - (rel * np.abs(theirs) + abs_)
    i = int(np.argmax(worst)) if worst.size else 0
    assert worst.size == 0 or worst.flat[i] <= 0, \
        f"{what}: row {i}: clv {ours.flat[i]!r} vs lifetimes {theirs.flat[i]!r}"


@pytest.fixture(scope="module")
def cdnow():
    """The CDNOW sample's raw order rows (several on some days)."""
    raw = pd.read_csv(os.path.join(DATA, "CDNOW_sample.txt"), sep=r"\s+", header=None,
                      names=["master", "customer_id", "date", "cds", "dollars"],
                      dtype={"master": str, "customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


@pytest.fixture(scope="module")
def summary(cdnow):
    return clv.utils.summary_data_from_transaction_data(
        cdnow, "customer_id", "date", monetary_value_col="dollars",
        observation_period_end="1998-06-30", freq="D", freq_multiplier=7)


@pytest.mark.parametrize("freq, multiplier", [("D", 1), ("D", 7), ("D", 30)])
@pytest.mark.parametrize("monetary", [None, "dollars"])
def test_summary_equals_lifetimes(cdnow, freq, multiplier, monetary):
    args = dict(monetary_value_col=monetary, observation_period_end="1998-05-31", freq=freq,
                freq_multiplier=multiplier)
    ours = clv.utils.summary_data_from_transaction_data(cdnow, "customer_id", "date", **args)
    theirs = lifetimes.utils.summary_data_from_transaction_data(cdnow, "customer_id", "date",
                                                                **args).sort_index()
    assert list(ours.columns) == list(theirs.columns)
    for column in theirs.columns:
        check(f"{column} ({freq}×{multiplier})", ours[column], theirs[column])


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "chunked", "string[python]", "category"])
def test_summary_takes_any_kind_of_text_ids(cdnow, dtype):
    """Arrow-backed ids pass to the ledger without a copy (in several chunks, as pandas reads a
    file, with one); every kind gives the same summary."""
    args = dict(monetary_value_col="dollars", observation_period_end="1998-05-31", freq="D",
                freq_multiplier=7)
    plain = clv.utils.summary_data_from_transaction_data(cdnow, "customer_id", "date", **args)
    ids = cdnow["customer_id"].tolist()
    if dtype == "chunked":
        chunks = pa.chunked_array([ids[:1000], ids[1000:5000], ids[5000:]])
        typed = cdnow.assign(customer_id=pd.Series(pd.arrays.ArrowStringArray(chunks),
                                                   index=cdnow.index))
    else:
        typed = cdnow.assign(customer_id=cdnow["customer_id"].astype(dtype))
    ours = clv.utils.summary_data_from_transaction_data(typed, "customer_id", "date", **args)
    assert list(ours.index) == list(plain.index)
    for column in plain.columns:
        check(f"{column} with {dtype} ids", ours[column], plain[column], rel=0)


def test_calibration_and_holdout_equal_lifetimes(cdnow):
    args = dict(calibration_period_end="1997-09-30", observation_period_end="1998-06-30",
                freq="D", freq_multiplier=7)
    ours = clv.utils.calibration_and_holdout_data(cdnow, "customer_id", "date",
                                                  monetary_value_col="dollars", **args)
    theirs = lifetimes.utils.calibration_and_holdout_data(
        cdnow, "customer_id", "date", monetary_value_col="dollars", **args).sort_index()
    assert list(ours.columns) == list(theirs.columns)
    for column in theirs.columns:
        if column != "monetary_value_holdout":
            check(column, ours[column], theirs[column])
    # lifetimes averages raw holdout rows; clv averages holdout purchase days, as in calibration.
    # With same-day orders summed first the two definitions agree.
    daily = cdnow.groupby(["customer_id", "date"], as_index=False)["dollars"].sum()
    theirs_daily = lifetimes.utils.calibration_and_holdout_data(
        daily, "customer_id", "date", monetary_value_col="dollars", **args).sort_index()
    check("monetary_value_holdout", ours["monetary_value_holdout"],
          theirs_daily["monetary_value_holdout"])


MODELS = [
    (clv.BetaGeoFitter, lifetimes.BetaGeoFitter),
    (clv.ModifiedBetaGeoFitter, lifetimes.ModifiedBetaGeoFitter),
    (clv.ParetoNBDFitter, lifetimes.ParetoNBDFitter),
]


def their_objective(theirs_class, params, columns, weights):
    """lifetimes' own objective (mean negative log-likelihood) at ``params``, on the data as
    given (lifetimes rescales time before fitting, which only adds a constant)."""
    theta = np.asarray(params, dtype=float)
    x = theta if theirs_class is lifetimes.ParetoNBDFitter else np.log(theta)
    columns = [np.asarray(c, dtype=float) for c in columns]
    return float(theirs_class._negative_log_likelihood(x, *columns, weights, 0.0))


def polished(theirs_class, start, columns, weights):
    """The optimum of lifetimes' objective, from lifetimes' answer by a tight Nelder-Mead:
    lifetimes stops at tol 1e-7 (BFGS) or 1e-4 (Pareto/NBD), short of the optimum."""
    result = scipy.optimize.minimize(
        lambda z: their_objective(theirs_class, np.exp(z), columns, weights), np.log(start),
        method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-15, maxiter=40000,
                                           maxfev=40000))
    return np.exp(result.x)


def finite_difference_errors(theirs_class, params, columns, weights, h=1e-4):
    """Standard errors from the central-difference Hessian of lifetimes' total negative
    log-likelihood in log-parameters (the delta method back to the parameters)."""
    # Pareto/NBD's objective is the total divided by the mean weight, the others' the mean.
    scale = weights.mean() if theirs_class is lifetimes.ParetoNBDFitter else weights.sum()
    z0, k = np.log(params), len(params)

    def total(z):
        return scale * their_objective(theirs_class, np.exp(z), columns, weights)

    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hessian[i, j] = (total(z0 + e_i + e_j) - total(z0 + e_i - e_j)
                             - total(z0 - e_i + e_j) + total(z0 - e_i - e_j)) / (4 * h * h)
    return params * np.sqrt(np.diag(np.linalg.inv(hessian)))


def fitted_pair(ours_class, theirs_class, *columns, weights=None):
    """(clv's fit, lifetimes' fit) after checking that clv found the optimum of lifetimes'
    own likelihood: at least as good as lifetimes' answer, and equal to the polished optimum."""
    name = ours_class.__name__
    ours = ours_class().fit(*columns, weights=weights)
    theirs = theirs_class().fit(*columns, weights=weights)
    w = np.ones(len(columns[0])) if weights is None else np.asarray(weights, dtype=float)
    assert (their_objective(theirs_class, ours.params_, columns, w)
            <= their_objective(theirs_class, theirs.params_, columns, w) + 1e-12), name
    best = polished(theirs_class, theirs.params_.to_numpy(), columns, w)
    # Near the optimum the objective is flat to rounding (Pareto/NBD's moves by 1e-11 of 17,136
    # along its ridge), so polishing from lifetimes' randomly started fit lands anywhere within a
    # few 1e-6 standard errors of it: agree to 1e-6 relative or 1e-4 of a standard error.
    check(f"{name} params", ours.params_, best, rel=1e-6,
          abs_=1e-4 * np.asarray(ours.standard_errors_, dtype=float))
    # The same standard errors: both invert the observed information at the optimum (lifetimes
    # has none for Pareto/NBD: there, a finite-difference Hessian of its likelihood).
    if hasattr(theirs, "standard_errors_"):
        check(f"{name} se", ours.standard_errors_, theirs.standard_errors_, rel=1e-4)
    else:
        check(f"{name} se", ours.standard_errors_,
              finite_difference_errors(theirs_class, best, columns, w), rel=1e-4)
    return ours, theirs


@pytest.mark.parametrize("ours_class, theirs_class", MODELS)
def test_purchase_models_equal_lifetimes(summary, ours_class, theirs_class):
    s = summary
    ours, theirs = fitted_pair(ours_class, theirs_class, s["frequency"], s["recency"], s["T"])
    theirs.params_ = ours.params_.copy()
    name = ours_class.__name__
    for t in [1.0, 10.0, 52.0, 104.0]:
        check(f"{name} E[X({t}) | history]",
              ours.conditional_expected_number_of_purchases_up_to_time(t, s["frequency"],
                                                                       s["recency"], s["T"]),
              theirs.conditional_expected_number_of_purchases_up_to_time(t, s["frequency"],
                                                                         s["recency"], s["T"]))
        check(f"{name} E[X({t})]", ours.expected_number_of_purchases_up_to_time(t),
              theirs.expected_number_of_purchases_up_to_time(t))
    check(f"{name} P(alive)", ours.conditional_probability_alive(s["frequency"], s["recency"],
                                                                 s["T"]),
          theirs.conditional_probability_alive(s["frequency"], s["recency"], s["T"]))
    check(f"{name} predict on arrays", ours.predict(np.array([2.0, 10.0]), 3, 20.0, 30.0),
          theirs.predict(np.array([2.0, 10.0]), 3, 20.0, 30.0))
    if hasattr(theirs, "probability_of_n_purchases_up_to_time"):
        for n in range(6):
            check(f"{name} P(X(52) = {n})", ours.probability_of_n_purchases_up_to_time(52, n),
                  theirs.probability_of_n_purchases_up_to_time(52, n), abs_=1e-12)
    if hasattr(theirs, "conditional_probability_of_n_purchases_up_to_time"):
        x, t_x, big_t = s["frequency"][:200], s["recency"][:200], s["T"][:200]
        for n in range(4):
            check(f"{name} P(X(13) = {n} | history)",
                  ours.conditional_probability_of_n_purchases_up_to_time(n, 13, x, t_x, big_t),
                  theirs.conditional_probability_of_n_purchases_up_to_time(n, 13, x, t_x, big_t),
                  rel=1e-7, abs_=1e-10)


def test_gamma_gamma_and_clv_equal_lifetimes(summary):
    s = summary
    repeat = s[s["frequency"] > 0]
    ours, theirs = fitted_pair(clv.GammaGammaFitter, lifetimes.GammaGammaFitter,
                               repeat["frequency"], repeat["monetary_value"])
    theirs.params_ = ours.params_.copy()
    check("E[spend]", ours.conditional_expected_average_profit(),
          theirs.conditional_expected_average_profit())
    check("E[spend] given", ours.conditional_expected_average_profit(s["frequency"],
                                                                     s["monetary_value"]),
          theirs.conditional_expected_average_profit(s["frequency"], s["monetary_value"]))
    bg, bg_theirs = fitted_pair(clv.BetaGeoFitter, lifetimes.BetaGeoFitter, s["frequency"],
                                s["recency"], s["T"])
    bg_theirs.params_ = bg.params_.copy()
    for time, rate in [(12, 0.01), (3, 0.0), (24, 0.05)]:
        args = (s["frequency"], s["recency"], s["T"], s["monetary_value"])
        theirs_clv = theirs.customer_lifetime_value(bg_theirs, *args, time=time,
                                                    discount_rate=rate, freq="W")
        check(f"CLV {time} months at {rate}", ours.customer_lifetime_value(
            bg, *args, time=time, discount_rate=rate, freq="W"), theirs_clv)
        # The unit is known from the summary: no freq needed, and the wrong one is refused.
        check("CLV without freq", ours.customer_lifetime_value(bg, *args, time=time,
                                                               discount_rate=rate), theirs_clv)
        # lifetimes' own fitter as the purchase model: its predictions, lifetimes' sum.
        check("CLV with a lifetimes model", ours.customer_lifetime_value(
            bg_theirs, *args, time=time, discount_rate=rate, freq="W"), theirs_clv)
    with pytest.raises(ValueError, match="fitted in 'W' units"):
        ours.customer_lifetime_value(bg, s["frequency"], s["recency"], s["T"],
                                     s["monetary_value"], freq="D")


def test_bgbb_equals_lifetimes():
    d = pd.read_csv(os.path.join(DATA, "donations.csv"))
    ours, theirs = fitted_pair(clv.BetaGeoBetaBinomFitter, lifetimes.BetaGeoBetaBinomFitter,
                               d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    theirs.params_ = ours.params_.copy()
    for m in [1, 5, 10]:
        check(f"BG/BB E[X(n, n+{m})]",
              ours.conditional_expected_number_of_purchases_up_to_time(
                  m, d["frequency"], d["recency"], d["periods"]),
              theirs.conditional_expected_number_of_purchases_up_to_time(
                  m, d["frequency"], d["recency"], d["periods"]))
        check(f"BG/BB P(alive at n+{m})",
              ours.conditional_probability_alive(m, d["frequency"], d["recency"], d["periods"]),
              theirs.conditional_probability_alive(m, d["frequency"], d["recency"],
                                                   d["periods"]))
    check("BG/BB in-sample counts", ours.expected_number_of_transactions_in_first_n_periods(6),
          theirs.expected_number_of_transactions_in_first_n_periods(6)["model"].to_numpy()
          .reshape(-1, 1))


def test_summary_reports_left_out_rows_and_strict_stops():
    orders = pd.DataFrame({
        "customer": ["a", "a", None, "b", "b", "c"],
        "date": ["2024-01-01", "2024-02-01", "2024-02-01", "not a date", "2024-03-01",
                 "2024-03-05"],
        "amount": [10.0, 20.0, 5.0, 7.0, float("nan"), 3.0],
    })
    with pytest.warns(UserWarning, match=r"3 rows left out .*row 2: no customer id"):
        out = clv.utils.summary_data_from_transaction_data(
            orders, "customer", "date", monetary_value_col="amount")
    # a: two orders a month apart; c: one. b has no usable row.
    assert list(out.index) == ["a", "c"]
    check("frequency", out["frequency"], [1.0, 0.0])
    check("recency", out["recency"], [31.0, 0.0])
    check("T", out["T"], [64.0, 0.0])
    check("monetary", out["monetary_value"], [20.0, 0.0])
    assert out.attrs["clv_report"]["rejected"]["counts"] == {
        "no customer id": 1, "no date": 1, "no monetary value": 1}
    with pytest.raises(ValueError, match="row 2: no customer id"):
        clv.utils.summary_data_from_transaction_data(orders, "customer", "date",
                                                     monetary_value_col="amount", strict=True)


def test_weeks_never_count_orders_after_the_end(cdnow):
    # lifetimes 0.11.3 with freq="W" counts the rest of the last week (recency can exceed T).
    out = clv.utils.summary_data_from_transaction_data(cdnow, "customer_id", "date",
                                                       observation_period_end="1997-12-31",
                                                       freq="W")
    assert (out["recency"] <= out["T"]).all()
    # Weeks are whole Monday-to-Sunday periods: the same as days/7 rounded to week starts.
    days = clv.utils.summary_data_from_transaction_data(cdnow, "customer_id", "date",
                                                        observation_period_end="1997-12-31")
    first = cdnow.groupby("customer_id")["date"].min()
    monday = (first - pd.to_timedelta(first.dt.weekday, unit="D"))
    end_monday = pd.Timestamp("1997-12-29")
    check("T in weeks", out["T"], ((end_monday - monday).dt.days / 7).reindex(out.index))
    assert (days.index == out.index).all()


def test_polars_in_polars_out(cdnow):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(cdnow)
    out = clv.utils.summary_data_from_transaction_data(frame, "customer_id", "date",
                                                       monetary_value_col="dollars",
                                                       observation_period_end="1998-06-30")
    assert isinstance(out, pl.DataFrame)
    theirs = lifetimes.utils.summary_data_from_transaction_data(
        cdnow, "customer_id", "date", monetary_value_col="dollars",
        observation_period_end="1998-06-30").sort_index()
    assert out["customer_id"].to_list() == list(theirs.index)
    check("recency via polars", out["recency"].to_numpy(), theirs["recency"])


def test_score_chooses_a_model_and_gives_intervals(cdnow, summary):
    scores = clv.score(cdnow, "customer_id", "date", "dollars",
                       observation_period_end="1998-06-30", model="bgnbd", horizon_days=7 * 52,
                       annual_discount_rate=0.0)
    assert list(scores.index) == list(summary.index)
    bg = clv.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    # Undiscounted, the expected purchases over 52 weeks are BG/NBD's conditional expectation.
    check("expected purchases", scores["expected_purchases"],
          bg.conditional_expected_number_of_purchases_up_to_time(52, summary["frequency"],
                                                                 summary["recency"],
                                                                 summary["T"]), rel=1e-6)
    check("P(alive)", scores["p_alive"], bg.conditional_probability_alive(
        summary["frequency"], summary["recency"], summary["T"]), rel=1e-6)
    low, high = scores["p_alive_lower"], scores["p_alive_upper"]
    assert ((low <= scores["p_alive"] + 1e-12) & (scores["p_alive"] <= high + 1e-12)).all()
    auto = clv.score(cdnow, "customer_id", "date", "dollars", observation_period_end="1998-06-30")
    assert "BIC" in auto.attrs["clv_report"]["description"]


@pytest.mark.parametrize("ours_class, theirs_class", [
    (clv.BetaGeoFitter, lifetimes.BetaGeoFitter),
    (clv.ModifiedBetaGeoFitter, lifetimes.ModifiedBetaGeoFitter),
    (clv.ParetoNBDFitter, lifetimes.ParetoNBDFitter)])
def test_alive_matrix_equals_lifetimes(summary, ours_class, theirs_class):
    columns = summary["frequency"], summary["recency"], summary["T"]
    ours = ours_class().fit(*columns)
    theirs = theirs_class()
    theirs.params_ = pd.Series(ours.params_.to_numpy(), index=ours.params_.index)
    theirs.data = summary
    check("P(alive) matrix", ours.conditional_probability_alive_matrix(),
          theirs.conditional_probability_alive_matrix(), rel=1e-9)
    check("a smaller matrix", ours.conditional_probability_alive_matrix(5, 20),
          theirs.conditional_probability_alive_matrix(5, 20), rel=1e-9)


def test_fit_auto_keeps_the_lowest_bic(summary):
    """``clv.fit(model="auto")`` returns the fitter of the model with the lowest BIC, recomputed
    here from each model fitted on its own (k ln n - 2 log L), with that model's parameters."""
    columns = summary["frequency"], summary["recency"], summary["T"]
    fitters = [clv.BetaGeoFitter(), clv.ModifiedBetaGeoFitter(), clv.ParetoNBDFitter()]
    bic = {type(f): 4 * np.log(len(summary)) - 2 * f.fit(*columns).log_likelihood_
           for f in fitters}
    auto = clv.fit(*columns)
    assert type(auto) is min(bic, key=bic.get)
    assert "lowest BIC" in auto.model_choice_
    direct = next(f for f in fitters if type(f) is type(auto))
    check("auto's parameters", auto.params_, direct.params_, rel=1e-12)
    check("auto's P(alive)", auto.conditional_probability_alive(*columns),
          direct.conditional_probability_alive(*columns), rel=1e-12)
    pareto = clv.fit(*columns, model="pnbd")
    assert type(pareto) is clv.ParetoNBDFitter and pareto.model_choice_ is None
    with pytest.raises(ValueError, match="spend model"):
        clv.fit(*columns, model="gamma-gamma")


def test_errors_are_python_exceptions_with_the_reason():
    with pytest.raises(clv.ConvergenceError, match="monetary|spend|positive|m "):
        clv.GammaGammaFitter().fit([1, 2], [-5.0, 3.0])
    with pytest.raises(ValueError, match="not been fit"):
        clv.BetaGeoFitter().conditional_probability_alive(1, 2, 3)
    with pytest.raises(ValueError, match="freq"):
        clv.utils.summary_data_from_transaction_data(
            pd.DataFrame({"c": [1], "d": ["2024-01-01"]}), "c", "d", freq="Q")
    with pytest.raises(ValueError, match="no finite number in row 1"):
        clv.BetaGeoFitter().fit([1, 0], [2.0, 0.0], [10.0, float("nan")])


def test_score_segments_and_tiers_equal_the_cli(cdnow, tmp_path):
    """`clv.score` gives each customer the RFM scores, segment and value tier `clv segments`
    prints for the same file (the binary the Rust tests built: same engine, so this checks that
    ids, order and columns survive the trip through Python)."""
    binary = os.environ.get("CLV_BIN", os.path.join(ROOT, "target", "debug", "clv"))
    assert os.path.exists(binary), f"{binary}: build it first (cargo build)"
    out = tmp_path / "segments.csv"
    subprocess.run([binary, "segments", os.path.join(DATA, "CDNOW_sample.txt"),
                    "--customer-col", "2", "--date-col", "3", "--amount-col", "5",
                    "--observation-end", "1998-06-30", "--model", "bgnbd", "-o", str(out)],
                   check=True, capture_output=True)
    cli = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    ours = clv.score(cdnow, "customer_id", "date", "dollars", observation_period_end="1998-06-30",
                     model="bgnbd")
    assert list(ours.index) == list(cli.index)
    for mine, theirs in [("rfm_r", "r_score"), ("rfm_f", "f_score"), ("rfm_m", "m_score"),
                         ("segment", "segment"), ("value_tier", "tier")]:
        assert (ours[mine].to_numpy() == cli[theirs].to_numpy()).all(), mine
    check("predicted CLV", ours["predicted_clv"], cli["predicted_clv"], rel=1e-9, abs_=1e-9)


def test_saved_models_score_in_the_cli(summary, tmp_path):
    """A model fitted in Python and saved is what `clv score --model-file` uses: the CLI's
    P(alive) and expected spend are the Python fitters' own."""
    s = summary
    bg = clv.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    repeat = s[s["frequency"] > 0]
    gg = clv.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    bg.save_model(tmp_path / "bg.json")
    gg.save_model(tmp_path / "gg.json")
    binary = os.environ.get("CLV_BIN", os.path.join(ROOT, "target", "debug", "clv"))
    out = tmp_path / "scores.csv"
    subprocess.run([binary, "score", os.path.join(DATA, "CDNOW_sample.txt"), "--customer-col",
                    "2", "--date-col", "3", "--amount-col", "5", "--observation-end",
                    "1998-06-30", "--model-file", str(tmp_path / "bg.json"), "--model-file",
                    str(tmp_path / "gg.json"), "--intervals", "none", "-o", str(out)],
                   check=True, capture_output=True)
    cli = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    assert list(cli.index) == list(s.index)
    check("P(alive) from the saved model", cli["p_alive"],
          bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"]), rel=1e-9)
    check("expected spend from the saved model", cli["expected_spend"],
          gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"]), rel=1e-9)
    unknown = clv.BetaGeoFitter().fit(s["frequency"].to_numpy(), s["recency"], s["T"])
    with pytest.raises(ValueError, match="time unit"):
        unknown.save_model(tmp_path / "unknown.json")


def test_models_saved_by_the_cli_load_and_predict_as_lifetimes(summary, tmp_path):
    """`clv fit -o` models loaded with ``clv.load_model`` predict what lifetimes' own fitters
    give at the same parameters, their time unit included (the CLV needs no ``freq``); a model
    saved from Python loads back to the same predictions."""
    s, repeat = summary, summary[summary["frequency"] > 0]
    binary = os.environ.get("CLV_BIN", os.path.join(ROOT, "target", "debug", "clv"))
    loaded = {}
    for model in ("pareto", "gg"):
        subprocess.run([binary, "fit", os.path.join(DATA, "CDNOW_sample.txt"), "--customer-col",
                        "2", "--date-col", "3", "--amount-col", "5", "--observation-end",
                        "1998-06-30", "--model", model, "-o", str(tmp_path / f"{model}.json")],
                       check=True, capture_output=True)
        loaded[model] = clv.load_model(tmp_path / f"{model}.json")
    pareto, gg = loaded["pareto"], loaded["gg"]
    assert type(pareto) is clv.ParetoNBDFitter and type(gg) is clv.GammaGammaFitter
    theirs = lifetimes.ParetoNBDFitter()
    theirs.params_ = pd.Series(pareto.params_.to_numpy(), index=["r", "alpha", "s", "beta"])
    # lifetimes' CLV calls `predict`, which its Pareto/NBD fitter lacks.
    theirs.predict = theirs.conditional_expected_number_of_purchases_up_to_time
    theirs_gg = lifetimes.GammaGammaFitter()
    theirs_gg.params_ = pd.Series(gg.params_.to_numpy(), index=["p", "q", "v"])
    columns = s["frequency"], s["recency"], s["T"]
    check("P(alive)", pareto.conditional_probability_alive(*columns),
          theirs.conditional_probability_alive(*columns), rel=1e-9)
    check("expected spend", gg.conditional_expected_average_profit(repeat["frequency"],
                                                                   repeat["monetary_value"]),
          theirs_gg.conditional_expected_average_profit(repeat["frequency"],
                                                        repeat["monetary_value"]), rel=1e-9)
    ours_clv = gg.customer_lifetime_value(pareto, repeat["frequency"], repeat["recency"],
                                          repeat["T"], repeat["monetary_value"])
    check("12-month CLV in the saved unit", ours_clv, theirs_gg.customer_lifetime_value(
        theirs, repeat["frequency"], repeat["recency"], repeat["T"], repeat["monetary_value"],
        freq="W"), rel=1e-6)
    bg = clv.BetaGeoFitter().fit(*columns)
    bg.save_model(tmp_path / "bg.json")
    again = clv.load_model(tmp_path / "bg.json")
    check("reloaded parameters", again.params_, bg.params_, rel=0)
    check("reloaded P(alive)", again.conditional_probability_alive(*columns),
          bg.conditional_probability_alive(*columns), rel=0)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a clv saved model"):
        clv.load_model(tmp_path / "other.json")
