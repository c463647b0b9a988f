//! Parameter recovery: fit each model to 100,000 customers simulated from known parameters and
//! require every estimate within 3 standard errors of the truth.

use clv_data::time::DAY;
use clv_data::TimeUnit;
use clv_models::{
    fit, BgNbd, FitReport, GammaGamma, MbgNbd, Model, Pattern, Patterns, SpendPattern,
};
use clv_sim::{
    simulate, BgNbd as PurchaseTruth, GammaGamma as SpendTruth, PurchaseModel, SimulatedLog,
    SimulationOptions,
};

const OBSERVATION_DAYS: f64 = 364.0;

fn simulated(purchases: PurchaseTruth, spend: SpendTruth) -> SimulatedLog {
    simulated_with(PurchaseModel::BgNbd, purchases, spend)
}

fn simulated_with(
    purchase_model: PurchaseModel,
    purchases: PurchaseTruth,
    spend: SpendTruth,
) -> SimulatedLog {
    simulate(&SimulationOptions {
        purchase_model,
        customers: 100_000,
        start: 0,
        acquisition_days: 84.0,
        observation_days: OBSERVATION_DAYS,
        time_unit: TimeUnit::Week,
        purchases,
        spend,
        catalogue: None,
        seed: 2026,
    })
    .unwrap()
}

fn assert_recovered(report: &FitReport, truth: &[f64]) {
    for (i, want) in truth.iter().enumerate() {
        let z = (report.params[i] - want) / report.standard_errors[i];
        assert!(
            z.abs() < 3.0,
            "{} = {} ± {} vs truth {want} (z = {z:.2})",
            report.names[i],
            report.params[i],
            report.standard_errors[i],
        );
    }
}

#[test]
fn gamma_gamma_recovers_simulated_parameters() {
    let truth = SpendTruth {
        p: 6.0,
        q: 4.0,
        gamma: 15.0,
    };
    let log = simulated(
        PurchaseTruth {
            r: 1.5,
            alpha: 3.0,
            a: 0.5,
            b: 5.0,
        },
        truth,
    );
    // Per customer: repeat purchases and their mean value (first purchase excluded).
    let mut first_seen = vec![false; log.customers.len()];
    let mut sums = vec![(0.0f64, 0.0f64); log.customers.len()];
    for o in &log.orders {
        let c = o.customer as usize;
        if first_seen[c] {
            sums[c].0 += 1.0;
            sums[c].1 += o.amount;
        }
        first_seen[c] = true;
    }
    let rows: Vec<SpendPattern> = sums
        .iter()
        .filter(|(x, _)| *x > 0.0)
        .map(|&(x, total)| SpendPattern {
            x,
            m: total / x,
            weight: 1.0,
        })
        .collect();
    let report = fit(&GammaGamma, &rows).expect("converges");
    assert_recovered(&report, &[truth.p, truth.q, truth.gamma]);
}

/// (x, t_x, T) in weeks from the simulator's own purchase times (second resolution).
fn purchase_patterns(log: &SimulatedLog) -> Patterns {
    let mut first = vec![i64::MAX; log.customers.len()];
    let mut last = vec![i64::MIN; log.customers.len()];
    let mut count = vec![0u32; log.customers.len()];
    for o in &log.orders {
        let c = o.customer as usize;
        first[c] = first[c].min(o.time);
        last[c] = last[c].max(o.time);
        count[c] += 1;
    }
    let week = 7.0 * DAY as f64;
    let end = (OBSERVATION_DAYS * DAY as f64) as i64;
    Patterns::compress((0..first.len()).map(|c| {
        (
            (count[c] - 1) as f64,
            (last[c] - first[c]) as f64 / week,
            (end - first[c]) as f64 / week,
        )
    }))
}

fn recovers<M: Model<Row = Pattern>>(model: &M, process: PurchaseModel) {
    let truth = PurchaseTruth {
        r: 0.5,
        alpha: 6.0,
        a: 0.8,
        b: 2.5,
    };
    let log = simulated_with(
        process,
        truth,
        SpendTruth {
            p: 6.0,
            q: 4.0,
            gamma: 15.0,
        },
    );
    let report = fit(model, &purchase_patterns(&log).rows).expect("converges");
    assert_recovered(&report, &[truth.r, truth.alpha, truth.a, truth.b]);
}

#[test]
fn bgnbd_recovers_simulated_parameters() {
    recovers(&BgNbd, PurchaseModel::BgNbd);
}

#[test]
fn mbgnbd_recovers_simulated_parameters() {
    recovers(&MbgNbd, PurchaseModel::MbgNbd);
}
