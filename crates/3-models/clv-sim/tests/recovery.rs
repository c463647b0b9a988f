//! Parameter recovery: fit each model to 100,000 customers simulated from known parameters and
//! require every estimate within 3 standard errors of the truth.

use clv_data::time::DAY;
use clv_data::TimeUnit;
use clv_models::{
    fit, BgNbd, FitReport, GammaGamma, MbgNbd, Model, ModelKind, Pattern, Patterns, SpendPattern,
};
use clv_sim::{
    simulate, GammaGamma as SpendTruth, PurchaseProcess, SimulatedLog, SimulationOptions,
};

const OBSERVATION_DAYS: f64 = 364.0;

fn simulated(purchases: PurchaseProcess, spend: SpendTruth) -> SimulatedLog {
    simulate(&SimulationOptions {
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
        PurchaseProcess::of(ModelKind::BG_NBD, &[1.5, 3.0, 0.5, 5.0]).unwrap(),
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

/// Order logs from the simulator, summarised and fitted.
fn recovers<M: Model<Row = Pattern>>(model: &M, kind: ModelKind) {
    let truth = [0.5, 6.0, 0.8, 2.5];
    let log = simulated(
        PurchaseProcess::of(kind, &truth).unwrap(),
        SpendTruth {
            p: 6.0,
            q: 4.0,
            gamma: 15.0,
        },
    );
    let report = fit(model, &purchase_patterns(&log).rows).expect("converges");
    assert_recovered(&report, &truth);
}

#[test]
fn bgnbd_recovers_simulated_parameters() {
    recovers(&BgNbd, ModelKind::BG_NBD);
}

#[test]
fn mbgnbd_recovers_simulated_parameters() {
    recovers(&MbgNbd, ModelKind::MBG_NBD);
}

/// Histories straight from the simulator's per-customer process, each observed for a T drawn
/// from `horizons`.
fn process_patterns(
    kind: ModelKind,
    truth: [f64; 4],
    horizons: impl Fn(&mut rand::rngs::StdRng) -> f64,
) -> Patterns {
    use rand::SeedableRng;
    let process = PurchaseProcess::of(kind, &truth).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    Patterns::compress((0..100_000).map(|_| {
        let big_t = horizons(&mut rng);
        let traits = process.draw_customer(&mut rng);
        let (times, _) = process.repeat_purchases(traits, big_t, 0.0, &mut rng);
        (
            times.len() as f64,
            times.last().copied().unwrap_or(0.0),
            big_t,
        )
    }))
}

#[test]
fn pareto_nbd_recovers_simulated_parameters() {
    use rand::Rng;
    let truth = [0.55, 10.6, 0.61, 11.7];
    let data = process_patterns(ModelKind::PARETO_NBD, truth, |rng| {
        26.0 + 26.0 * rng.random::<f64>()
    });
    let report = fit(&clv_models::ParetoNbd, &data.rows).expect("converges");
    assert_recovered(&report, &truth);
}

#[test]
fn bgbb_recovers_simulated_parameters() {
    use rand::Rng;
    // p ~ Beta(α, β) chance to buy at each opportunity; θ ~ Beta(γ, δ) chance to drop out at the
    // start of each; customers observed for 6 to 12 opportunities.
    let truth = [1.2, 0.75, 0.66, 2.8];
    let data = process_patterns(ModelKind::BgBb, truth, |rng| {
        rng.random_range(6..=12u32) as f64
    });
    let report = fit(&clv_models::BgBb, &data.rows).expect("converges");
    assert_recovered(&report, &truth);
}

#[test]
fn sbg_recovers_simulated_cohorts() {
    use clv_models::{ShiftedBetaGeometric, Tenure};
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution};
    // Fader & Hardie's "regular" segment: α = 0.704, β = 1.182. Ten cohorts of 10,000 starting a
    // period apart, observed until period 12: each subscriber churns each period with θ.
    let truth = [0.704, 1.182];
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let churn = Beta::new(truth[0], truth[1]).unwrap();
    let mut rows = Vec::new();
    for cohort in 0..10 {
        let observed = 12 - cohort;
        for _ in 0..10_000 {
            let theta: f64 = churn.sample(&mut rng);
            let lasted = (1..=observed).find(|_| rng.random::<f64>() < theta);
            rows.push(match lasted {
                Some(t) => Tenure {
                    periods: t as f64,
                    churned: true,
                    weight: 1.0,
                },
                None => Tenure {
                    periods: observed as f64,
                    churned: false,
                    weight: 1.0,
                },
            });
        }
    }
    let report = fit(&ShiftedBetaGeometric, &rows).expect("converges");
    assert_recovered(&report, &truth);
}
