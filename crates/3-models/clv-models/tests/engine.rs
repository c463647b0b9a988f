//! The fitting engine's promises: it refuses fits it cannot stand behind, it falls back to a
//! derivative-free search when gradients fail, and its penalty does what it says.

use clv_models::{fit, fit_with, BgNbd, FitError, FitOptions, Model, Pattern, Patterns};

mod common;

#[test]
fn unidentifiable_data_is_an_error_not_a_silent_success() {
    // Nobody ever buys again: a and b cannot be told apart and r, α run to the boundary. A
    // "successful" fit here is what makes every later prediction 0 (CLVTools' r ≈ 4e55 case).
    let data = Patterns::compress((0..500).map(|i| (0.0, 0.0, 30.0 + (i % 7) as f64)));
    match fit(&BgNbd, &data.rows) {
        Err(FitError::NotConverged { reason, .. }) => {
            assert!(!reason.is_empty());
        }
        other => panic!("expected a refused fit, got {other:?}"),
    }
}

#[test]
fn the_penalty_shrinks_estimates_and_costs_likelihood() {
    let data = common::cdnow();
    let plain = fit(&BgNbd, &data.rows).unwrap();
    let penalised = fit_with(
        &BgNbd,
        &data.rows,
        FitOptions {
            penalty: 0.01,
            ..Default::default()
        },
    )
    .unwrap();
    let size = |p: &[f64]| p.iter().map(|t| t * t).sum::<f64>();
    assert!(size(&penalised.params) < size(&plain.params));
    assert!(penalised.log_likelihood < plain.log_likelihood);
    assert_eq!((plain.penalty, penalised.penalty), (0.0, 0.01));
    assert!(fit_with(
        &BgNbd,
        &data.rows,
        FitOptions {
            penalty: -1.0,
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn a_fit_on_several_threads_equals_the_fit_on_one() {
    // CDNOW's patterns, each repeated with 20 slightly longer observation windows: over 16,384
    // distinct patterns, enough for the likelihood to be split over two threads.
    let cdnow = common::cdnow();
    let data = Patterns::compress(
        cdnow
            .rows
            .iter()
            .flat_map(|p| (0..20).map(move |k| (p.x, p.t_x, p.t + k as f64 * 1e-3))),
    );
    assert!(data.rows.len() > 16_384);
    let on = |threads| {
        fit_with(
            &BgNbd,
            &data.rows,
            FitOptions {
                threads,
                ..Default::default()
            },
        )
        .unwrap()
    };
    // Not merely close: the same fit, bit for bit, on one, two or three threads.
    let one = on(1);
    assert_eq!(one, on(2));
    assert_eq!(one, on(3));
}

/// One parameter, ℓ(θ) = −(ln θ − 1)², maximised at θ = e; its gradient "overflows" above θ = 5.
struct Fragile;

impl Model for Fragile {
    type Row = Pattern;
    fn names(&self) -> &'static [&'static str] {
        &["theta"]
    }
    fn log_likelihood(&self, theta: &[f64], _row: &Pattern, grad: &mut [f64]) -> f64 {
        let u = theta[0].ln() - 1.0;
        grad[0] += if theta[0] > 5.0 {
            f64::NAN
        } else {
            -2.0 * u / theta[0]
        };
        -u * u
    }
    fn starts(&self, _rows: &[Pattern]) -> Vec<Vec<f64>> {
        vec![vec![8.0]]
    }
    fn check(&self, _rows: &[Pattern]) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn nelder_mead_takes_over_when_gradients_fail() {
    let rows = [Pattern {
        x: 0.0,
        t_x: 0.0,
        t: 1.0,
        weight: 1.0,
    }];
    let report = fit(&Fragile, &rows).expect("the derivative-free fallback finds θ = e");
    assert_eq!(report.method, "Nelder-Mead");
    assert!(
        (report.params[0] - std::f64::consts::E).abs() < 1e-5,
        "{}",
        report.params[0]
    );
}

/// A customer whose first purchase falls on the last day (T = 0, common when an export ends
/// today) has likelihood 1 in every model: adding many of them leaves every fit where it was.
#[test]
fn customers_observed_for_no_time_add_nothing_to_a_fit() {
    let zero = Pattern {
        x: 0.0,
        t_x: 0.0,
        t: 0.0,
        weight: 250.0,
    };
    let cdnow = common::cdnow().rows;
    let donations: Vec<Pattern> = {
        let text = std::fs::read_to_string(common::data_file("donations.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let v: Vec<f64> = l.split(',').map(|f| f.parse().unwrap()).collect();
                Pattern {
                    x: v[0],
                    t_x: v[1],
                    t: v[2],
                    weight: v[3],
                }
            })
            .collect()
    };
    let check =
        |name: &str, fit: &dyn Fn(&[Pattern]) -> clv_models::FitReport, rows: &[Pattern]| {
            let plain = fit(rows);
            let mut with_zero = vec![zero];
            with_zero.extend_from_slice(rows);
            let padded = fit(&with_zero);
            assert!(
                (plain.log_likelihood - padded.log_likelihood).abs() < 1e-6,
                "{name}"
            );
            for (a, b) in plain.params.iter().zip(&padded.params) {
                assert!((a - b).abs() <= 1e-5 * a.abs(), "{name}: {a} vs {b}");
            }
        };
    check("BG/NBD", &|r| fit(&BgNbd, r).unwrap(), &cdnow);
    check("MBG/NBD", &|r| fit(&clv_models::MbgNbd, r).unwrap(), &cdnow);
    check(
        "Pareto/NBD",
        &|r| fit(&clv_models::ParetoNbd, r).unwrap(),
        &cdnow,
    );
    check("BG/BB", &|r| fit(&clv_models::BgBb, r).unwrap(), &donations);
}
