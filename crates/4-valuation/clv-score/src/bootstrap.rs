//! Parametric bootstrap for bootstrap intervals: simulate every customer's history afresh from
//! the fitted purchase and spend models (same observation lengths T, same repeat counts for
//! spend), refit both, and repeat; the refitted parameter sets carry the sampling uncertainty
//! that the predictions' percentile intervals are taken over.
//!
//! Draws run on the caller's threads; each refit runs on the thread of its draw, so threads never
//! multiply.

use crate::error::ValuationError;
use clv_models::forecast::parallel_map;
use clv_models::{
    FitOptions, ModelKind, Pattern, Patterns, PurchaseModel, SpendModel, SpendPattern,
};
use clv_sim::PurchaseProcess;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};

/// The fitted models and the data they were fitted to.
pub struct Fitted<'a> {
    pub purchase: PurchaseModel,
    pub purchase_params: &'a [f64],
    pub patterns: &'a [Pattern],
    /// The spend model's parameters and its repeat buyers, when there is a spend model.
    pub spend: Option<(&'a [f64], &'a [SpendPattern])>,
}

/// Refitted parameter sets, one per successful draw, in the same order for both models.
#[derive(Debug, Clone)]
pub struct Refits {
    pub purchase: Vec<Vec<f64>>,
    /// None without a spend model.
    pub spend: Option<Vec<Vec<f64>>>,
    /// Draws whose refit did not converge, left out.
    pub left_out: usize,
}

/// `draws` refits of both models, spread over `options.threads` threads (each refit on one).
/// Draws whose refit fails are left out; more than a tenth failing is an error, since the rest
/// would no longer be a fair sample.
pub fn refits(
    fitted: &Fitted,
    draws: usize,
    seed: u64,
    options: FitOptions,
) -> Result<Refits, ValuationError> {
    let threads = options.threads;
    let Fitted {
        purchase,
        purchase_params,
        patterns,
        spend,
    } = *fitted;
    let (spend_params, spend_rows) = spend.unwrap_or((&[1.0, 2.0, 1.0], &[]));
    let process = PurchaseProcess::of(ModelKind::from(purchase), purchase_params)
        .ok_or_else(|| ValuationError::Config(format!("no simulator for a {purchase} model")))?;
    let [p, q, gamma] = [spend_params[0], spend_params[1], spend_params[2]];
    let spend_rate = Gamma::new(q, 1.0 / gamma)
        .map_err(|e| ValuationError::Config(format!("spend parameters: {e}")))?;
    // Each refit on the thread of its draw.
    let options = FitOptions {
        threads: 1,
        ..options
    };
    let indices: Vec<u64> = (0..draws as u64).collect();
    let refits = parallel_map(threads, &indices, |&b| -> Result<_, ValuationError> {
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
                let mean = Gamma::new(p * row.x, 1.0 / (nu * row.x))
                    .map_err(|e| ValuationError::Config(format!("spend draw: {e}")))?
                    .sample(&mut rng);
                spends.push(SpendPattern {
                    x: row.x,
                    m: mean,
                    weight: 1.0,
                });
            }
        }
        spends.sort_by(|a, b| a.x.total_cmp(&b.x));
        let purchase = purchase.fit(&histories.rows, options).ok();
        let spend = match fitted.spend {
            Some(_) => SpendModel::GammaGamma
                .fit(&spends, options)
                .ok()
                .map(|s| s.params),
            None => Some(Vec::new()),
        };
        Ok(purchase.zip(spend).map(|(p, s)| (p.params, s)))
    })?;
    let succeeded: Vec<(Vec<f64>, Vec<f64>)> = refits.into_iter().flatten().collect();
    if succeeded.len() * 10 < draws * 9 || succeeded.len() < 2 {
        return Err(ValuationError::Bootstrap {
            converged: succeeded.len(),
            draws,
        });
    }
    let left_out = draws - succeeded.len();
    let (purchase, spend): (Vec<_>, Vec<_>) = succeeded.into_iter().unzip();
    Ok(Refits {
        purchase,
        spend: fitted.spend.map(|_| spend),
        left_out,
    })
}
