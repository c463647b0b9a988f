//! Parametric bootstrap for `clv score --intervals bootstrap`: simulate every customer's history
//! afresh from the fitted purchase and spend models (same observation lengths T, same repeat
//! counts for spend), refit both, and repeat; the refitted parameter sets carry the sampling
//! uncertainty that the predictions' percentile intervals are taken over.

use crate::modeling::{fit_model, fit_purchase};
use anyhow::Result;
use clv_models::{GammaGamma, Pattern, Patterns, SpendPattern};
use clv_sim::PurchaseProcess;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};

/// The fitted models and the data they were fitted to.
pub struct Fitted<'a> {
    pub kind: &'a str,
    pub purchase_params: &'a [f64],
    pub patterns: &'a [Pattern],
    pub spend_params: &'a [f64],
    pub spend_rows: &'a [SpendPattern],
}

/// Refitted parameter sets, one per successful draw, in the same order for both models.
pub struct Refits {
    pub purchase: Vec<Vec<f64>>,
    pub spend: Vec<Vec<f64>>,
}

/// `draws` refits of both models. Draws whose refit fails are skipped; more than a tenth failing
/// is an error, since the rest would no longer be a fair sample.
pub fn refits(fitted: &Fitted, draws: usize, seed: u64, penalty: f64) -> Result<Refits> {
    let Fitted {
        kind,
        purchase_params,
        patterns,
        spend_params,
        spend_rows,
    } = *fitted;
    let process = PurchaseProcess::of(kind, purchase_params)
        .ok_or_else(|| anyhow::anyhow!("no simulator for a `{kind}` model"))?;
    let [p, q, gamma] = [spend_params[0], spend_params[1], spend_params[2]];
    let spend_rate = Gamma::new(q, 1.0 / gamma)?;
    let indices: Vec<u64> = (0..draws as u64).collect();
    let refits = clv_models::forecast::parallel_map(&indices, |&b| -> Result<_> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_mul(1_000_003) ^ b);
        let histories = Patterns::compress(patterns.iter().flat_map(|row| {
            let big_t = row.t;
            (0..row.weight as u64)
                .map(|_| {
                    let traits = process.draw_customer(&mut rng);
                    let (times, _) = process.repeat_purchases(traits, big_t, 0.0, &mut rng);
                    (
                        times.len() as f64,
                        times.last().copied().unwrap_or(0.0),
                        big_t,
                    )
                })
                .collect::<Vec<_>>()
        }));
        // A repeat buyer's mean of x order values, each Gamma(p, ν): Gamma(p·x, ν·x).
        let mut spends: Vec<SpendPattern> = Vec::new();
        for row in spend_rows {
            for _ in 0..row.weight as u64 {
                let nu: f64 = spend_rate.sample(&mut rng);
                let mean = Gamma::new(p * row.x, 1.0 / (nu * row.x))?.sample(&mut rng);
                spends.push(SpendPattern {
                    x: row.x,
                    m: mean,
                    weight: 1.0,
                });
            }
        }
        spends.sort_by(|a, b| a.x.total_cmp(&b.x));
        let purchase = fit_purchase(kind, &histories.rows, penalty).ok();
        let spend = fit_model(&GammaGamma, &spends, penalty).ok();
        Ok(purchase
            .zip(spend)
            .map(|(p, s)| (p.report.params, s.params)))
    })?;
    let succeeded: Vec<(Vec<f64>, Vec<f64>)> = refits.into_iter().flatten().collect();
    anyhow::ensure!(
        succeeded.len() * 10 >= draws * 9 && succeeded.len() >= 2,
        "only {} of {draws} bootstrap refits converged; use --intervals delta, or more data",
        succeeded.len()
    );
    if succeeded.len() < draws {
        eprintln!(
            "bootstrap: {} of {draws} refits did not converge and were left out",
            draws - succeeded.len()
        );
    }
    let (purchase, spend) = succeeded.into_iter().unzip();
    Ok(Refits { purchase, spend })
}
