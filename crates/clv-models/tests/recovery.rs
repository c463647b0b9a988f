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

/// Pareto/NBD histories drawn directly from the process: λ ~ Gamma(r, α), μ ~ Gamma(s, β), an
/// exponential lifetime at rate μ, Poisson purchases at rate λ while alive, T uniform in [26, 52].
fn pareto_patterns(truth: [f64; 4], customers: usize) -> Patterns {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Exp, Gamma};
    let [r, alpha, s, beta] = truth;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (rate, death) = (
        Gamma::new(r, 1.0 / alpha).unwrap(),
        Gamma::new(s, 1.0 / beta).unwrap(),
    );
    Patterns::compress((0..customers).map(|_| {
        let big_t = 26.0 + 26.0 * rng.random::<f64>();
        let (lambda, mu): (f64, f64) = (rate.sample(&mut rng), death.sample(&mut rng));
        let lifetime = Exp::new(mu).unwrap().sample(&mut rng).min(big_t);
        let (mut t, mut x, mut t_x) = (0.0, 0.0, 0.0);
        let gap = Exp::new(lambda).unwrap();
        loop {
            t += gap.sample(&mut rng);
            if t > lifetime {
                break;
            }
            x += 1.0;
            t_x = t;
        }
        (x, t_x, big_t)
    }))
}

#[test]
fn pareto_nbd_recovers_simulated_parameters() {
    let truth = [0.55, 10.6, 0.61, 11.7];
    let report = fit(
        &clv_models::ParetoNbd,
        &pareto_patterns(truth, 100_000).rows,
    )
    .expect("converges");
    assert_recovered(&report, &truth);
}

#[test]
fn bgbb_recovers_simulated_parameters() {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution};
    // p ~ Beta(α, β) chance to buy at each opportunity; θ ~ Beta(γ, δ) chance to drop out at the
    // start of each; customers observed for 6 to 12 opportunities.
    let truth = [1.2, 0.75, 0.66, 2.8];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (buy, drop) = (
        Beta::new(truth[0], truth[1]).unwrap(),
        Beta::new(truth[2], truth[3]).unwrap(),
    );
    let data = Patterns::compress((0..100_000).map(|_| {
        let n = rng.random_range(6..=12u32);
        let (p, theta): (f64, f64) = (buy.sample(&mut rng), drop.sample(&mut rng));
        let (mut x, mut t_x) = (0.0, 0.0);
        for t in 1..=n {
            if rng.random::<f64>() < theta {
                break;
            }
            if rng.random::<f64>() < p {
                x += 1.0;
                t_x = t as f64;
            }
        }
        (x, t_x, n as f64)
    }));
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
