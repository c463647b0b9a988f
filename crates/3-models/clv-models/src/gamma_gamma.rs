//! Gamma-Gamma spend model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005): each purchase of a
//! customer is Gamma(p, ν) with ν ~ Gamma(q, γ) across customers. Fitted on repeat buyers' mean
//! repeat spend m_x over x repeat purchases:
//!
//! ℓ = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln m_x + px ln x − (px+q) ln(γ + x m_x).

use crate::data::{weighted_mean, Weighted};
use crate::fit::Model;
use statrs::function::gamma::{digamma, ln_gamma};

/// x ≥ 1 repeat purchases with mean value `m` > 0, for `weight` customers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpendPattern {
    pub x: f64,
    pub m: f64,
    pub weight: f64,
}

impl Weighted for SpendPattern {
    fn weight(&self) -> f64 {
        self.weight
    }
}

/// Repeat buyers with identical (x, m) merged (weights added) and sorted by (x, m): the same
/// buyers in any order, or already counted in groups (a Spark `groupBy`), give the same rows and
/// so the same fit. (`clv score` and `clv fit` keep one row per buyer, sorted by x: their fits
/// agree with these to the optimiser's tolerance, about 1e-7.)
pub fn spend_patterns(rows: impl IntoIterator<Item = SpendPattern>) -> Vec<SpendPattern> {
    let mut rows: Vec<SpendPattern> = rows.into_iter().collect();
    // Equal (x, m) are merged, so a stable sort buys nothing; total_cmp's order as one integer
    // key sorts 445,000 buyers in a third of the time of comparing the two floats in turn.
    rows.sort_unstable_by_key(|r| (total_order_key(r.x), total_order_key(r.m)));
    rows.dedup_by(|later, kept| {
        let same = later.x.to_bits() == kept.x.to_bits() && later.m.to_bits() == kept.m.to_bits();
        if same {
            kept.weight += later.weight;
        }
        same
    });
    rows
}

/// `f64::total_cmp`'s order as an integer: the sign bit flips a negative number's other bits.
fn total_order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The Gamma-Gamma model; parameters (p, q, γ).
#[derive(Debug, Clone, Copy, Default)]
pub struct GammaGamma;

/// Fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

impl GammaGammaParams {
    pub fn from_slice(v: &[f64]) -> Self {
        GammaGammaParams {
            p: v[0],
            q: v[1],
            gamma: v[2],
        }
    }

    /// E[M | x, m_x]: the customer's expected spend per purchase, a weighted average of the
    /// population mean pγ/(q−1) and their own mean (x = 0 gives the population mean). `None`
    /// when q ≤ 1: the population mean does not exist.
    pub fn expected_spend(&self, x: f64, m: f64) -> Option<f64> {
        let GammaGammaParams { p, q, gamma } = *self;
        (q > 1.0).then(|| p * (gamma + x * m) / (p * x + q - 1.0))
    }
}

/// Σ weight · ℓ over rows, adding the weighted gradient into `grad`. The log-gamma and digamma
/// terms depend only on x and the parameters, so they are recomputed only when x changes (rows
/// sorted by x, as `fit` callers pass them, make that once per distinct x).
fn spend_chunk(theta: &[f64], rows: &[SpendPattern], grad: &mut [f64]) -> f64 {
    let (p, q, gamma) = (theta[0], theta[1], theta[2]);
    let (ln_gamma_q, psi_q, ln_g) = (ln_gamma(q), digamma(q), gamma.ln());
    // (x, lnΓ(px+q) − lnΓ(px) − lnΓ(q), ψ(px+q) − ψ(px), ψ(px+q) − ψ(q), ln x)
    let mut cached = (f64::NAN, 0.0, 0.0, 0.0, 0.0);
    let mut ll = 0.0;
    for row in rows {
        let SpendPattern { x, m, weight } = *row;
        if cached.0 != x {
            let px = p * x;
            let psi_all = digamma(px + q);
            cached = (
                x,
                ln_gamma(px + q) - ln_gamma(px) - ln_gamma_q,
                psi_all - digamma(px),
                psi_all - psi_q,
                x.ln(),
            );
        }
        let (_, ln_gammas, d_p, d_q, ln_x) = cached;
        let px = p * x;
        let ln_m = m.ln();
        let total = gamma + x * m;
        let ln_total = total.ln();
        grad[0] += weight * x * (d_p + ln_m + ln_x - ln_total);
        grad[1] += weight * (d_q + ln_g - ln_total);
        grad[2] += weight * (q / gamma - (px + q) / total);
        ll += weight * (ln_gammas + q * ln_g + (px - 1.0) * ln_m + px * ln_x - (px + q) * ln_total);
    }
    ll
}

/// Refuses spend that does not vary: when every repeat buyer's mean spend is the same, the
/// likelihood grows without bound as p and q do (a fit "converges" to a log-likelihood of 10⁴⁸).
fn constant_spend(rows: &[SpendPattern]) -> Result<(), String> {
    let (lo, hi) = rows.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r.m), hi.max(r.m))
    });
    if hi - lo > 1e-9 * hi {
        return Ok(());
    }
    Err(format!(
        "every repeat buyer's mean spend is {hi}: spend does not vary, so the Gamma-Gamma spend model cannot be fitted (constant spend); expected spend per order is {hi} for everyone"
    ))
}

impl Model for GammaGamma {
    type Row = SpendPattern;

    fn names(&self) -> &'static [&'static str] {
        &["p", "q", "gamma"]
    }

    fn log_likelihood(&self, theta: &[f64], row: &SpendPattern, grad: &mut [f64]) -> f64 {
        let one = SpendPattern {
            weight: 1.0,
            ..*row
        };
        spend_chunk(theta, &[one], grad)
    }

    fn chunk_log_likelihood(&self, theta: &[f64], rows: &[SpendPattern], grad: &mut [f64]) -> f64 {
        spend_chunk(theta, rows, grad)
    }

    fn check(&self, rows: &[SpendPattern]) -> Result<(), String> {
        if rows.is_empty() {
            return Err("no repeat buyers to fit the spend model on".into());
        }
        match rows.iter().find(|r| !(r.x >= 1.0 && r.m > 0.0 && r.m.is_finite() && r.weight > 0.0)) {
            Some(r) => Err(format!(
                "the spend model needs repeat buyers with a positive mean spend; got x = {}, mean spend = {} (leave out customers without repeat purchases or with zero/negative net spend)",
                r.x, r.m
            )),
            None => constant_spend(rows),
        }
    }

    fn starts(&self, rows: &[SpendPattern]) -> Vec<Vec<f64>> {
        let mean = weighted_mean(rows, |r| r.m).max(1e-9);
        vec![
            vec![1.0, 2.0, mean],
            vec![5.0, 3.0, 2.0 * mean],
            vec![0.5, 5.0, 10.0 * mean],
        ]
    }
}
