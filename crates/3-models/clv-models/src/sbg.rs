//! Shifted-beta-geometric retention (Fader & Hardie 2007, "How to project customer retention"):
//! each subscriber churns at the end of every period with probability θ ~ Beta(α, β).
//!
//! P(T = t) = B(α+1, β+t−1)/B(α,β) (churned in period t), S(t) = B(α, β+t)/B(α,β) (still
//! subscribed after t periods), retention r(t) = S(t)/S(t−1) = (β+t−1)/(α+β+t−1).
//! A cohort survival curve and one row per subscriber give the same rows: churned after t periods,
//! or still active after t periods (censored), each with a weight.

use crate::data::Weighted;
use crate::fit::Model;
use crate::hyp2f1::{ln_hyp2f1, Hyp2f1Error};
use statrs::function::beta::ln_beta;
use statrs::function::gamma::digamma;

/// Subscribers who churned in period `periods` (`churned`) or were still active after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tenure {
    pub periods: f64,
    pub churned: bool,
    pub weight: f64,
}

impl Weighted for Tenure {
    fn weight(&self) -> f64 {
        self.weight
    }
}

impl Tenure {
    /// Rows from a cohort's survival curve: `alive[t]` subscribers (or shares) at the start of
    /// period t + 1, `alive[0]` the cohort size. Those lost between entries churned in that
    /// period; the last entry is still active.
    pub fn from_survival_curve(alive: &[f64]) -> Result<Vec<Tenure>, String> {
        if alive.len() < 2 {
            return Err(
                "a survival curve needs the cohort size and at least one later count".into(),
            );
        }
        if let Some(w) = alive
            .windows(2)
            .find(|w| w[1].is_nan() || w[1] > w[0] || w[1] < 0.0)
        {
            return Err(format!(
                "a survival curve must not increase or go negative: {} then {}",
                w[0], w[1]
            ));
        }
        let mut rows: Vec<Tenure> = alive
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] > w[1])
            .map(|(t, w)| Tenure {
                periods: (t + 1) as f64,
                churned: true,
                weight: w[0] - w[1],
            })
            .collect();
        let last = *alive.last().expect("two or more");
        if last > 0.0 {
            rows.push(Tenure {
                periods: (alive.len() - 1) as f64,
                churned: false,
                weight: last,
            });
        }
        Ok(rows)
    }
}

impl Tenure {
    /// Rows from one entry per subscriber: the whole periods observed and whether they churned
    /// (in the last of them) or are still subscribed after them; identical entries are merged
    /// into weights. Entries with no whole period observed say nothing yet and are left out.
    pub fn from_subscribers(spans: impl IntoIterator<Item = (u32, bool)>) -> Vec<Tenure> {
        let mut counts: std::collections::BTreeMap<(u32, bool), f64> = Default::default();
        for (periods, churned) in spans {
            if periods > 0 {
                *counts.entry((periods, churned)).or_default() += 1.0;
            }
        }
        counts
            .into_iter()
            .map(|((periods, churned), weight)| Tenure {
                periods: periods as f64,
                churned,
                weight,
            })
            .collect()
    }
}

/// The Kaplan–Meier survival curve of tenure rows: S(0) = 1, then S(t) = Π_{k ≤ t} (1 − d_k/n_k)
/// with d_k the subscribers who churned in period k and n_k those at risk then (churned in k or
/// later, or still subscribed after k or more periods), for as long as anyone is at risk. For a
/// cohort's survival curve it is the curve divided by the cohort size.
pub fn kaplan_meier(rows: &[Tenure]) -> Vec<f64> {
    let horizon = rows.iter().map(|r| r.periods as usize).max().unwrap_or(0);
    let mut curve = vec![1.0];
    for k in 1..=horizon {
        let kf = k as f64;
        let at_risk: f64 = rows
            .iter()
            .filter(|r| r.periods >= kf)
            .map(|r| r.weight)
            .sum();
        if at_risk <= 0.0 {
            break;
        }
        let churned: f64 = rows
            .iter()
            .filter(|r| r.churned && r.periods == kf)
            .map(|r| r.weight)
            .sum();
        let last = *curve.last().expect("starts at 1");
        curve.push(last * (1.0 - churned / at_risk));
    }
    curve
}

/// The shifted-beta-geometric model; parameters (α, β).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShiftedBetaGeometric;

/// Fitted sBG parameters, with the projections they make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SbgParams {
    pub alpha: f64,
    pub beta: f64,
}

impl SbgParams {
    pub fn from_slice(p: &[f64]) -> Self {
        SbgParams {
            alpha: p[0],
            beta: p[1],
        }
    }

    /// S(t): share of a new cohort still subscribed after t periods.
    pub fn survival(&self, t: f64) -> f64 {
        (ln_beta(self.alpha, self.beta + t) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// r(t) = S(t)/S(t−1): share of those active in period t − 1 who renew for period t (t ≥ 1).
    pub fn retention(&self, t: f64) -> f64 {
        (self.beta + t - 1.0) / (self.alpha + self.beta + t - 1.0)
    }

    /// DERL: discounted expected residual lifetime, in payments, of a subscriber who has made
    /// n − 1 renewals and is about to decide on the next (Fader & Hardie 2010): each future
    /// renewal t ≥ n is paid with probability S(t)/S(n−1) and discounted by (1+d)^(t−n), the
    /// first undiscounted. Closed form (β+n−1)/(α+β+n−1) · ₂F₁(1, β+n; α+β+n; 1/(1+d)).
    /// Residual value = price per period × DERL.
    pub fn discounted_residual_lifetime(&self, d: f64, n: f64) -> Result<f64, Hyp2f1Error> {
        let SbgParams { alpha, beta } = *self;
        Ok(self.retention(n) * ln_hyp2f1(1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + d))?.exp())
    }

    /// Expected residual lifetime in periods (undiscounted): Σ_{t>n} S(t−1)/S(n−1), which is
    /// (β+n−1)/(α−1) for α > 1 and infinite otherwise.
    pub fn expected_residual_lifetime(&self, n: f64) -> Option<f64> {
        (self.alpha > 1.0).then(|| (self.beta + n - 1.0) / (self.alpha - 1.0))
    }
}

fn row_log_likelihood(theta: &[f64], row: &Tenure, grad: &mut [f64]) -> f64 {
    let (alpha, beta) = (theta[0], theta[1]);
    let t = row.periods;
    let (p, q) = if row.churned {
        (alpha + 1.0, beta + t - 1.0)
    } else {
        (alpha, beta + t)
    };
    let (psi_pq, psi_ab) = (digamma(p + q), digamma(alpha + beta));
    grad[0] += digamma(p) - psi_pq - (digamma(alpha) - psi_ab);
    grad[1] += digamma(q) - psi_pq - (digamma(beta) - psi_ab);
    ln_beta(p, q) - ln_beta(alpha, beta)
}

impl Model for ShiftedBetaGeometric {
    type Row = Tenure;

    fn names(&self) -> &'static [&'static str] {
        &["alpha", "beta"]
    }

    fn log_likelihood(&self, theta: &[f64], row: &Tenure, grad: &mut [f64]) -> f64 {
        row_log_likelihood(theta, row, grad)
    }

    fn check(&self, rows: &[Tenure]) -> Result<(), String> {
        if rows.is_empty() {
            return Err("no subscribers to fit".into());
        }
        if !rows.iter().any(|r| r.churned) {
            return Err("nobody churned, so churn cannot be estimated; observe longer".into());
        }
        match rows.iter().find(|r| {
            !(r.periods.fract() == 0.0 && r.weight > 0.0 && r.weight.is_finite())
                || r.periods < if r.churned { 1.0 } else { 0.0 }
        }) {
            Some(r) => Err(format!(
                "invalid tenure: {} periods, churned {}, weight {}",
                r.periods, r.churned, r.weight
            )),
            None => Ok(()),
        }
    }

    fn starts(&self, _rows: &[Tenure]) -> Vec<Vec<f64>> {
        vec![vec![1.0, 1.0], vec![0.5, 3.0], vec![3.0, 0.5]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaplan_meier_of_a_cohort_curve_is_the_curve_and_handles_censoring() {
        let alive = [1000.0, 640.0, 480.0, 400.0, 350.0];
        let curve = kaplan_meier(&Tenure::from_survival_curve(&alive).unwrap());
        for (got, a) in curve.iter().zip(alive) {
            assert!((got - a / 1000.0).abs() < 1e-12, "{curve:?}");
        }
        // Hand-worked: 4 subscribers; one churns in period 1, one is still subscribed after 1,
        // two churn in period 2 → S(1) = 3/4, S(2) = 3/4 · (1 − 2/2) = 0.
        let rows =
            Tenure::from_subscribers([(1, true), (1, false), (2, true), (2, true), (0, false)]);
        assert_eq!(rows.iter().map(|r| r.weight).sum::<f64>(), 4.0);
        assert_eq!(kaplan_meier(&rows), vec![1.0, 0.75, 0.0]);
    }

    #[test]
    fn uniform_churn_has_hand_computable_projections() {
        // α = β = 1: θ uniform, so S(t) = ∫(1−θ)^t dθ = 1/(t+1) and r(t) = t/(t+1).
        let p = SbgParams::from_slice(&[1.0, 1.0]);
        for t in 1..10 {
            let t = t as f64;
            assert!((p.survival(t) - 1.0 / (t + 1.0)).abs() < 1e-14);
            assert!((p.retention(t) - t / (t + 1.0)).abs() < 1e-14);
        }
        assert_eq!(p.expected_residual_lifetime(1.0), None);
    }

    #[test]
    fn discounted_residual_lifetime_is_a_discounted_sum_of_survival() {
        for (alpha, beta) in [(0.704, 1.182), (0.668, 3.806), (3.0, 5.0)] {
            let p = SbgParams::from_slice(&[alpha, beta]);
            for n in [1.0, 3.0, 12.0] {
                let d: f64 = 0.1;
                // Renewals t = n, n+1, …: paid with S(t)/S(n−1), discounted (1+d)^(t−n).
                let naive: f64 = (0..5000)
                    .map(|k| p.survival(n + k as f64) / p.survival(n - 1.0) / (1.0 + d).powi(k))
                    .sum();
                let closed = p.discounted_residual_lifetime(d, n).unwrap();
                assert!(
                    (closed - naive).abs() < 1e-10 * naive,
                    "{alpha},{beta},{n}: {closed} vs {naive}"
                );
            }
        }
    }

    #[test]
    fn survival_curve_rows() {
        let rows = Tenure::from_survival_curve(&[1000.0, 631.0, 468.0, 468.0, 315.0]).unwrap();
        let churned: f64 = rows.iter().filter(|r| r.churned).map(|r| r.weight).sum();
        assert_eq!(churned, 685.0);
        assert_eq!(
            rows.last().unwrap(),
            &Tenure {
                periods: 4.0,
                churned: false,
                weight: 315.0
            }
        );
        assert!(Tenure::from_survival_curve(&[10.0, 11.0]).is_err());
    }
}
