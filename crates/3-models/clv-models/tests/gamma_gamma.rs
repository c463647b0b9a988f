//! Gamma-Gamma on CDNOW's 946 repeat buyers against the published estimates, its analytic
//! gradient against finite differences, and expected spend against the closed form.

use clv_models::gamma_gamma::GammaGammaParams;
use clv_models::{fit, GammaGamma, SpendPattern};

mod common;
use common::cdnow_repeat_buyers;

#[test]
fn cdnow_fit_matches_the_published_estimates() {
    let rows = cdnow_repeat_buyers();
    assert_eq!(rows.len(), 946);
    let report = fit(&GammaGamma, &rows).expect("converges");
    let want = [6.249575, 3.744224, 15.443512];
    for (i, want) in want.iter().enumerate() {
        let rel = (report.params[i] - want).abs() / want;
        assert!(
            rel < 1e-4,
            "{}: {} vs {want}",
            report.names[i],
            report.params[i],
        );
    }
    assert!(
        (report.log_likelihood - -4055.9177).abs() < 1e-3,
        "{}",
        report.log_likelihood
    );
}

#[test]
fn expected_spend_and_bad_input() {
    let p = GammaGammaParams::from_slice(&[6.25, 3.74, 15.44]);
    // A customer with no repeats gets the population mean pγ/(q − 1).
    assert!((p.expected_spend(0.0, 0.0).unwrap() - 6.25 * 15.44 / 2.74).abs() < 1e-12);
    // Many purchases pull the estimate towards the customer's own mean.
    let heavy = p.expected_spend(200.0, 50.0).unwrap();
    assert!((heavy - 50.0).abs() < 0.5, "{heavy}");
    assert!(GammaGammaParams::from_slice(&[1.0, 0.9, 1.0])
        .expected_spend(1.0, 1.0)
        .is_none());
    assert!(fit(
        &GammaGamma,
        &[SpendPattern {
            x: 0.0,
            m: 1.0,
            weight: 1.0
        }]
    )
    .is_err());
}

/// Constant spend (every order the same price: a subscription box, a fixed fee) once "converged"
/// to a log-likelihood of 10⁴⁸; it is refused and the message names the cause.
#[test]
fn constant_spend_is_refused_by_name() {
    let rows: Vec<SpendPattern> = (1..=40)
        .map(|x| SpendPattern {
            x: x as f64,
            m: 19.99,
            weight: 1.0 + (x % 3) as f64,
        })
        .collect();
    match fit(&GammaGamma, &rows) {
        Err(clv_models::FitError::Data(why)) => assert!(why.contains("constant spend"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // One buyer spending a cent more is spend that varies: no refusal for that reason.
    let mut varied = rows.clone();
    varied[0].m = 20.0;
    assert!(!matches!(
        fit(&GammaGamma, &varied),
        Err(clv_models::FitError::Data(_))
    ));
}

/// `spend_patterns` merges equal (x, m) and sorts by (x, m) in `total_cmp` order: checked against
/// a naive count over a shuffled list with repeats, negative and zero spend, and -0.0.
#[test]
fn spend_patterns_merge_and_sort_like_a_naive_count() {
    let values = [3.5, -2.0, 0.0, -0.0, 19.99, 1e-300, 7.25, -1e9];
    let mut rows = Vec::new();
    // A fixed pseudo-random walk over (x, m) pairs, many repeated.
    let mut state = 12345u64;
    for _ in 0..2000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let x = 1.0 + (state >> 60) as f64;
        let m = values[(state >> 33) as usize % values.len()];
        rows.push(SpendPattern {
            x,
            m,
            weight: 1.0 + (state >> 62) as f64,
        });
    }
    let mut naive: Vec<(f64, f64, f64)> = Vec::new();
    for r in &rows {
        match naive
            .iter_mut()
            .find(|(x, m, _)| x.to_bits() == r.x.to_bits() && m.to_bits() == r.m.to_bits())
        {
            Some(found) => found.2 += r.weight,
            None => naive.push((r.x, r.m, r.weight)),
        }
    }
    naive.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let merged: Vec<(f64, f64, f64)> = clv_models::spend_patterns(rows.iter().rev().copied())
        .into_iter()
        .map(|r| (r.x, r.m, r.weight))
        .collect();
    assert_eq!(merged.len(), naive.len());
    for (got, want) in merged.iter().zip(&naive) {
        assert_eq!(
            (got.0.to_bits(), got.1.to_bits(), got.2),
            (want.0.to_bits(), want.1.to_bits(), want.2)
        );
    }
}
