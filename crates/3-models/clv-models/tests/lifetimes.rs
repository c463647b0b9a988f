//! BG/NBD and MBG/NBD against lifetimes 0.11.3 on CDNOW (fixture written by
//! `tools/fixtures/model_fixtures.py`): our fit reaches lifetimes' optimum, and every prediction
//! evaluated at lifetimes' estimates equals lifetimes' own.

use clv_models::gamma_gamma::GammaGammaParams;
use clv_models::value::Discounting;
use clv_models::PurchasePredictor;
use clv_models::{fit, BgNbd, BgNbdParams, MbgNbd, Model, Pattern, Patterns, Variant};
use serde_json::Value;

mod common;
use common::{cdnow, close, data_file};

fn check<M: Model<Row = Pattern>>(
    model: &M,
    name: &str,
    variant: Variant,
    fixture: &Value,
    data: &Patterns,
) {
    let want = &fixture["models"][name];
    let report = fit(model, &data.rows).expect("converges");
    let mut lifetimes_params = Vec::new();
    for (i, key) in ["r", "alpha", "a", "b"].iter().enumerate() {
        let theirs = want["params"][key].as_f64().unwrap();
        lifetimes_params.push(theirs);
        // Two optimisers, one optimum: 1e-6 relative.
        close(&format!("{name} {key}"), report.params[i], theirs, 1e-6);
    }
    let their_ll = want["log_likelihood"].as_f64().unwrap();
    assert!(
        report.log_likelihood >= their_ll - 1e-6,
        "{name}: {} < {their_ll}",
        report.log_likelihood
    );
    close(
        &format!("{name} log-likelihood"),
        report.log_likelihood,
        their_ll,
        1e-9,
    );

    let p = BgNbdParams::of(variant, &lifetimes_params);
    for (t, v) in want["new_customer"].as_object().unwrap() {
        let t: f64 = t.parse().unwrap();
        close(
            &format!("{name} E[X({t})]"),
            p.expected_purchases_new(t).unwrap(),
            v.as_f64().unwrap(),
            1e-9,
        );
    }
    let pmf = want["pmf_52"].as_array().unwrap();
    for (n, v) in pmf.iter().enumerate() {
        close(
            &format!("{name} P(X(52) = {n})"),
            p.probability_of_purchases(n as u32, 52.0),
            v.as_f64().unwrap(),
            1e-9,
        );
    }
    // A distribution: it sums to one (the tail beyond 400 purchases is negligible here).
    let total: f64 = (0..400).map(|n| p.probability_of_purchases(n, 52.0)).sum();
    assert!((total - 1.0).abs() < 1e-9, "{name}: Σ P(X = n) = {total}");

    // CLV the way lifetimes computes it (its monthly scheme, 4.345 weeks a month), with lifetimes'
    // Gamma-Gamma estimates.
    let g = &fixture["gamma_gamma"];
    let spend = GammaGammaParams::from_slice(&[
        g["p"].as_f64().unwrap(),
        g["q"].as_f64().unwrap(),
        g["v"].as_f64().unwrap(),
    ]);
    let settings = &fixture["clv_settings"];
    let (months, rate, per_month) = (
        settings["months"].as_u64().unwrap() as u32,
        settings["monthly_rate"].as_f64().unwrap(),
        settings["weeks_per_month"].as_f64().unwrap(),
    );
    for c in want["clv"].as_array().unwrap() {
        let f = |k: &str| c[k].as_f64().unwrap();
        let (x, t_x, big_t, m) = (f("x"), f("t_x"), f("T"), f("m"));
        let lifetimes_scheme = Discounting::Monthly {
            months,
            units_per_month: per_month,
            monthly_rate: rate,
        };
        let (_, purchases) = lifetimes_scheme
            .expected_and_discounted(&p, 0.0, x, t_x, big_t)
            .unwrap();
        let clv = spend.expected_spend(x, m).unwrap() * purchases;
        close(&format!("{name} CLV x={x}"), clv, f("clv"), 1e-9);
    }
    for h in want["histories"].as_array().unwrap() {
        let (x, t_x, big_t) = (
            h["x"].as_f64().unwrap(),
            h["t_x"].as_f64().unwrap(),
            h["T"].as_f64().unwrap(),
        );
        let label = format!("{name} x={x} t_x={t_x} T={big_t}");
        close(
            &format!("{label} P(alive)"),
            p.p_alive(x, t_x, big_t),
            h["p_alive"].as_f64().unwrap(),
            1e-9,
        );
        for (t, v) in h["expected"].as_object().unwrap() {
            let t: f64 = t.parse().unwrap();
            let got = p.conditional_expected_purchases(t, x, t_x, big_t).unwrap();
            close(
                &format!("{label} E[X(T, T+{t})]"),
                got,
                v.as_f64().unwrap(),
                1e-9,
            );
        }
    }
}

#[test]
fn bgnbd_and_mbgnbd_agree_with_lifetimes() {
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(data_file("lifetimes_models.json")).unwrap())
            .unwrap();
    let data = cdnow();
    check(&BgNbd, "bgnbd", Variant::Bg, &fixture, &data);
    check(&MbgNbd, "mbgnbd", Variant::Mbg, &fixture, &data);
}

#[test]
fn pareto_nbd_agrees_with_lifetimes() {
    use clv_models::{ParetoNbd, ParetoNbdParams};
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(data_file("lifetimes_models.json")).unwrap())
            .unwrap();
    let want = &fixture["models"]["pareto"];
    let report = fit(&ParetoNbd, &cdnow().rows).expect("converges");
    let theirs: Vec<f64> = ["r", "alpha", "s", "beta"]
        .iter()
        .map(|k| want["params"][k].as_f64().unwrap())
        .collect();
    for (i, key) in ["r", "alpha", "s", "beta"].iter().enumerate() {
        // lifetimes' optimum polished by a tight Nelder-Mead: equal to 1e-6.
        close(&format!("pareto {key}"), report.params[i], theirs[i], 1e-6);
    }
    close(
        "pareto log-likelihood",
        report.log_likelihood,
        want["log_likelihood"].as_f64().unwrap(),
        1e-10,
    );
    let p = ParetoNbdParams::from_slice(&theirs);
    for (t, v) in want["new_customer"].as_object().unwrap() {
        let t: f64 = t.parse().unwrap();
        close(
            &format!("pareto E[X({t})]"),
            p.expected_purchases_new(t),
            v.as_f64().unwrap(),
            1e-9,
        );
    }
    for h in want["histories"].as_array().unwrap() {
        let f = |k: &str| h[k].as_f64().unwrap();
        let (x, t_x, big_t) = (f("x"), f("t_x"), f("T"));
        let label = format!("pareto x={x} t_x={t_x} T={big_t}");
        close(
            &format!("{label} ℓ"),
            p.log_likelihood(x, t_x, big_t).unwrap(),
            f("log_likelihood"),
            1e-10,
        );
        close(
            &format!("{label} P(alive)"),
            p.p_alive(x, t_x, big_t).unwrap(),
            f("p_alive"),
            1e-9,
        );
        for (t, v) in h["expected"].as_object().unwrap() {
            let t: f64 = t.parse().unwrap();
            close(
                &format!("{label} E[X(T, T+{t})]"),
                p.conditional_expected_purchases(t, x, t_x, big_t).unwrap(),
                v.as_f64().unwrap(),
                1e-9,
            );
        }
        for (n, v) in h["pmf_13"].as_array().unwrap().iter().enumerate() {
            let v = v.as_f64().unwrap();
            let got = p
                .conditional_probability_of_purchases(n as u32, 13.0, x, t_x, big_t)
                .unwrap();
            // Both subtract nearly equal terms; absolute agreement is what is meaningful.
            assert!(
                (got - v).abs() < 1e-9,
                "{label} P(X(13) = {n}): {got} vs {v}"
            );
        }
    }
}
