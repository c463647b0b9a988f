//! Per-customer forecasts with intervals: P(alive), expected and discounted purchases over a
//! horizon, and the median wait to the next purchase, each with an interval from parameter
//! uncertainty, plus a predictive interval for the number of purchases itself.
//!
//! Parameter uncertainty enters as a [`Spread`]: a set of parameter vectors around the estimate.
//! - Delta method: the estimate and, for each parameter, ln θᵢ moved by ±h; the central
//!   differences give ∇ ln g with respect to ln θ, and Var(ln g) ≈ ∇ᵀ Σ ∇ with Σ the covariance
//!   of ln θ (Σᵢⱼ = Cov(θᵢ, θⱼ)/(θᵢθⱼ), from the observed information). Positive quantities get
//!   intervals symmetric on the log scale, probabilities on the logit scale, so no bound leaves
//!   the quantity's range.
//! - Parametric bootstrap: parameter sets refitted to data simulated from the fitted model; the
//!   interval is the percentiles of the predictions over the sets.
//!
//! Cost grows with distinct histories, not customers. The expectations of an active customer
//! depend on (x, T) only, so they are computed once per distinct (x, T), each at every parameter
//! set; only P(alive) is evaluated per distinct (x, t_x, T).

use crate::data::Pattern;
use crate::hyp2f1::Hyp2f1Error;
use crate::purchase::PurchasePredictor;
use crate::value::{median_time_to_next_purchase, Discounting};
use rustc_hash::FxHashMap;

/// A prediction and its interval (both bounds equal the value when no interval was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Estimate {
    fn exact(value: f64) -> Self {
        Estimate {
            value,
            lower: value,
            upper: value,
        }
    }
}

/// Step in ln θ for the central differences: truncation error O(h²) ≈ 1e-8 relative, far below
/// the parameter uncertainty it feeds.
const LOG_STEP: f64 = 1e-4;

/// The most parameters a model may have for the delta method (the models have 2 to 4).
const MAX_PARAMETERS: usize = 8;

#[derive(Debug, Clone)]
enum Method {
    None,
    Delta {
        ln_covariance: Vec<Vec<f64>>,
        z: f64,
    },
    Draws,
}

/// Parameter sets around a fitted estimate, and how predictions at them become an interval.
#[derive(Debug, Clone)]
pub struct Spread {
    /// The estimate first, then the perturbed or bootstrapped sets.
    sets: Vec<Vec<f64>>,
    method: Method,
    level: f64,
}

/// Why a spread cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpreadError {
    #[error("the interval level must be between 0 and 1 (e.g. 0.9), got {0}")]
    Level(f64),
    #[error("the covariance matrix is missing, the wrong size or not finite; refit the model with `clv fit -o` to store it")]
    Covariance,
    #[error("a bootstrap needs at least 2 parameter sets of the model's size")]
    Draws,
}

impl Spread {
    /// No intervals: only the estimate.
    pub fn none(params: &[f64]) -> Self {
        Spread {
            sets: vec![params.to_vec()],
            method: Method::None,
            level: 0.0,
        }
    }

    /// The delta method from the covariance of the natural parameters.
    pub fn delta(params: &[f64], covariance: &[Vec<f64>], level: f64) -> Result<Self, SpreadError> {
        check_level(level)?;
        let k = params.len();
        if k > MAX_PARAMETERS
            || covariance.len() != k
            || covariance
                .iter()
                .any(|row| row.len() != k || row.iter().any(|v| !v.is_finite()))
        {
            return Err(SpreadError::Covariance);
        }
        let ln_covariance = (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| covariance[i][j] / (params[i] * params[j]))
                    .collect()
            })
            .collect();
        let mut sets = vec![params.to_vec()];
        for i in 0..k {
            for sign in [1.0, -1.0] {
                let mut moved = params.to_vec();
                moved[i] *= (sign * LOG_STEP).exp();
                sets.push(moved);
            }
        }
        Ok(Spread {
            sets,
            method: Method::Delta {
                ln_covariance,
                z: normal_quantile(0.5 + level / 2.0),
            },
            level,
        })
    }

    /// Percentiles over bootstrapped parameter sets.
    pub fn draws(params: &[f64], draws: Vec<Vec<f64>>, level: f64) -> Result<Self, SpreadError> {
        check_level(level)?;
        if draws.len() < 2 || draws.iter().any(|d| d.len() != params.len()) {
            return Err(SpreadError::Draws);
        }
        let mut sets = vec![params.to_vec()];
        sets.extend(draws);
        Ok(Spread {
            sets,
            method: Method::Draws,
            level,
        })
    }

    /// The parameter sets, the estimate first: callers evaluate a prediction at each.
    pub fn sets(&self) -> &[Vec<f64>] {
        &self.sets
    }

    /// The interval level, if intervals were asked for.
    pub fn level(&self) -> Option<f64> {
        match self.method {
            Method::None => None,
            _ => Some(self.level),
        }
    }

    /// An interval for a positive quantity from its value at each set: symmetric on the log scale
    /// (delta) or percentiles (bootstrap). If a value is not positive and finite, the interval is
    /// the range of the values.
    pub fn positive(&self, values: &[f64]) -> Estimate {
        self.interval(values, f64::ln, f64::exp)
    }

    /// [`Spread::positive`] and [`Spread::ln_variance`] together, differencing once.
    pub fn positive_with_ln_variance(&self, values: &[f64]) -> (Estimate, f64) {
        let var = self.ln_variance(values);
        match &self.method {
            Method::Delta { z, .. } if values.iter().all(|v| *v > 0.0 && v.is_finite()) => {
                let half = z * var.max(0.0).sqrt();
                let value = values[0];
                let estimate = Estimate {
                    value,
                    lower: value * (-half).exp(),
                    upper: value * half.exp(),
                };
                (estimate, var)
            }
            _ => (self.positive(values), var),
        }
    }

    /// An interval for a probability, symmetric on the logit scale; a probability of exactly 0 or 1
    /// at every set (e.g. P(alive) = 1 without repeat purchases in BG/NBD) stays there.
    pub fn probability(&self, values: &[f64]) -> Estimate {
        let logit = |p: f64| p.ln() - (-p).ln_1p();
        let expit = |l: f64| 1.0 / (1.0 + (-l).exp());
        self.interval(values, logit, expit)
    }

    /// An interval for the product of two independent quantities, each given at the sets of its
    /// own spread (the purchase and the spend model), e.g. CLV = spend × discounted purchases.
    /// Delta: the variances of the logs add. Bootstrap: percentiles of the paired products.
    pub fn product(&self, values: &[f64], other: &Spread, other_values: &[f64]) -> Estimate {
        self.product_given(
            values,
            self.ln_variance(values),
            other,
            other_values,
            other.ln_variance(other_values),
        )
    }

    /// [`Spread::product`] with both sides' Var(ln g) already known (from
    /// [`Spread::ln_variance`]; scoring has one per pattern and the other per customer, where it
    /// also gave that side's own interval).
    pub fn product_given(
        &self,
        values: &[f64],
        ln_variance: f64,
        other: &Spread,
        other_values: &[f64],
        other_ln_variance: f64,
    ) -> Estimate {
        let value = values[0] * other_values[0];
        match (&self.method, &other.method) {
            (Method::Draws, Method::Draws) => {
                let products: Vec<f64> = values
                    .iter()
                    .zip(other_values)
                    .map(|(a, b)| a * b)
                    .collect();
                self.positive(&products)
            }
            (Method::None, Method::None) => Estimate::exact(value),
            _ => {
                let var = ln_variance + other_ln_variance;
                let z = match (&self.method, &other.method) {
                    (Method::Delta { z, .. }, _) | (_, Method::Delta { z, .. }) => *z,
                    _ => normal_quantile(0.5 + self.level.max(other.level) / 2.0),
                };
                if value > 0.0 && var.is_finite() {
                    let half = z * var.sqrt();
                    Estimate {
                        value,
                        lower: value * (-half).exp(),
                        upper: value * half.exp(),
                    }
                } else {
                    Estimate::exact(value)
                }
            }
        }
    }

    /// Var(ln g) from g at each set: ∇ᵀΣ∇ (delta) or the sample variance over draws; 0 when g is
    /// not positive and finite everywhere.
    pub fn ln_variance(&self, values: &[f64]) -> f64 {
        if values.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
            return 0.0;
        }
        match &self.method {
            Method::None => 0.0,
            Method::Delta { ln_covariance, .. } => self
                .gradient(values, f64::ln)
                .map_or(0.0, |(g, k)| quadratic_form(ln_covariance, &g[..k])),
            Method::Draws => {
                let logs: Vec<f64> = values[1..].iter().map(|v| v.ln()).collect();
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (logs.len() - 1) as f64
            }
        }
    }

    /// ∇ of to(g) with respect to ln θ by central differences (on the stack: this runs per
    /// customer); `None` if a difference is not finite.
    fn gradient(
        &self,
        values: &[f64],
        to: impl Fn(f64) -> f64,
    ) -> Option<([f64; MAX_PARAMETERS], usize)> {
        let mut gradient = [0.0; MAX_PARAMETERS];
        let k = (values.len() - 1) / 2;
        for (i, pair) in values[1..].chunks(2).enumerate() {
            gradient[i] = (to(pair[0]) - to(pair[1])) / (2.0 * LOG_STEP);
            if !gradient[i].is_finite() {
                return None;
            }
        }
        Some((gradient, k))
    }

    fn interval(
        &self,
        values: &[f64],
        to: impl Fn(f64) -> f64,
        from: impl Fn(f64) -> f64,
    ) -> Estimate {
        let value = values[0];
        if values.iter().all(|&v| v == value) {
            return Estimate::exact(value);
        }
        match &self.method {
            Method::None => Estimate::exact(value),
            Method::Delta { ln_covariance, z } => {
                let centre = to(value);
                match self.gradient(values, to) {
                    Some((gradient, k)) if centre.is_finite() => {
                        let half = z * quadratic_form(ln_covariance, &gradient[..k])
                            .max(0.0)
                            .sqrt();
                        Estimate {
                            value,
                            lower: from(centre - half),
                            upper: from(centre + half),
                        }
                    }
                    // At a boundary of the transform (a probability of 0 or 1 at some set): the
                    // range of the values.
                    _ => Estimate {
                        value,
                        lower: values.iter().copied().fold(f64::INFINITY, f64::min),
                        upper: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    },
                }
            }
            Method::Draws => {
                // Percentiles commute with the monotone transform; a draw where the quantity does
                // not exist (e.g. mean spend with q ≤ 1) is left out.
                let mut draws: Vec<f64> = values[1..]
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect();
                if draws.is_empty() {
                    return Estimate::exact(value);
                }
                draws.sort_by(f64::total_cmp);
                let tail = (1.0 - self.level) / 2.0;
                Estimate {
                    value,
                    lower: percentile(&draws, tail).min(value),
                    upper: percentile(&draws, 1.0 - tail).max(value),
                }
            }
        }
    }
}

fn check_level(level: f64) -> Result<(), SpreadError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(SpreadError::Level(level))
    }
}

fn quadratic_form(matrix: &[Vec<f64>], v: &[f64]) -> f64 {
    matrix
        .iter()
        .zip(v)
        .map(|(row, vi)| vi * row.iter().zip(v).map(|(m, vj)| m * vj).sum::<f64>())
        .sum()
}

/// The p-quantile of sorted values, interpolating linearly between order statistics.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let position = p * (sorted.len() - 1) as f64;
    let (below, fraction) = (position.floor() as usize, position.fract());
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// Φ⁻¹(p) of the standard normal.
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p)
}

/// One distinct history's forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternForecast {
    pub p_alive: Estimate,
    /// Expected purchases in the horizon.
    pub expected_purchases: Estimate,
    /// Discounted expected purchases at each parameter set of the spread, the estimate first:
    /// multiplied by spend they give CLV, whose interval combines both models' uncertainty
    /// ([`Spread::product`]).
    pub discounted_purchases: Vec<f64>,
    /// Var(ln discounted purchases) under the spread (0 for bootstrap draws, which keep the values).
    pub discounted_ln_variance: f64,
    /// Median time to the next purchase if the customer is still active, in model units.
    pub wait: Estimate,
    /// Predictive interval for the number of purchases in the horizon, from P(X = n) at the
    /// estimate: the smallest n whose cumulative probability reaches each tail (only with a level).
    pub purchases: Option<(u32, u32)>,
}

/// Forecasts for each pattern, `make` building the purchase model from a parameter set.
pub fn forecast(
    make: &(dyn Fn(&[f64]) -> Box<dyn PurchasePredictor> + Sync),
    spread: &Spread,
    patterns: &[Pattern],
    horizon: f64,
    discounting: Discounting,
    threads: usize,
) -> Result<Vec<PatternForecast>, Hyp2f1Error> {
    let models: Vec<Box<dyn PurchasePredictor>> = spread.sets().iter().map(|s| make(s)).collect();
    let tail = spread.level().map(|level| (1.0 - level) / 2.0);

    // The distinct (x, T) of the patterns, and for each pattern its (x, T).
    let mut index: FxHashMap<(u64, u64), u32> = FxHashMap::default();
    let mut groups: Vec<(f64, f64)> = Vec::new();
    let group_of: Vec<u32> = patterns
        .iter()
        .map(|p| {
            *index
                .entry((p.x.to_bits(), p.t.to_bits()))
                .or_insert_with(|| {
                    groups.push((p.x, p.t));
                    (groups.len() - 1) as u32
                })
        })
        .collect();

    /// An active customer's expectations with this (x, T), at each parameter set.
    struct Active {
        expected: Vec<f64>,
        discounted: Vec<f64>,
        wait: Vec<f64>,
        cumulative: Vec<f64>,
    }
    let active = parallel_map(threads, &groups, |&(x, big_t)| {
        let mut a = Active {
            expected: Vec::with_capacity(models.len()),
            discounted: Vec::with_capacity(models.len()),
            wait: Vec::with_capacity(models.len()),
            cumulative: Vec::new(),
        };
        for model in &models {
            let (e, d) = discounting.if_active(model.as_ref(), horizon, x, big_t)?;
            a.expected.push(e);
            a.discounted.push(d);
            a.wait
                .push(median_time_to_next_purchase(model.as_ref(), x, big_t));
        }
        if let Some(tail) = tail {
            a.cumulative =
                models[0].cumulative_purchases_if_active(horizon, x, big_t, 1.0 - tail)?;
        }
        Ok(a)
    })?;

    let indexed: Vec<(&Pattern, u32)> = patterns.iter().zip(group_of).collect();
    parallel_map(threads, &indexed, |&(p, group)| {
        let a = &active[group as usize];
        let alive = models
            .iter()
            .map(|m| m.p_alive(p.x, p.t_x, p.t))
            .collect::<Result<Vec<f64>, _>>()?;
        let times = |v: &[f64]| -> Vec<f64> { alive.iter().zip(v).map(|(p, e)| p * e).collect() };
        let purchases = tail.map(|tail| {
            // P(X ≤ n) = (1 − P(alive)) + P(alive)·P(X ≤ n | active).
            let quantile = |q: f64| {
                a.cumulative
                    .iter()
                    .position(|&c| (1.0 - alive[0]) + alive[0] * c >= q - 1e-12)
                    .unwrap_or(a.cumulative.len()) as u32
            };
            (quantile(tail), quantile(1.0 - tail))
        });
        let discounted = times(&a.discounted);
        Ok(PatternForecast {
            p_alive: spread.probability(&alive),
            expected_purchases: spread.positive(&times(&a.expected)),
            discounted_ln_variance: spread.ln_variance(&discounted),
            discounted_purchases: discounted,
            wait: spread.positive(&a.wait),
            purchases,
        })
    })
}

/// `f` over `items`, split across `threads` threads (0 and 1: this one), results in order; the
/// first error wins.
pub fn parallel_map<T: Sync, R: Send, E: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let size = items.len().div_ceil(threads).max(1);
    let f = &f;
    let parts: Vec<Result<Vec<R>, E>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Result<Vec<R>, E>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("forecast worker panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.125), 1.5);
        assert_eq!(percentile(&v, 1.0), 5.0);
    }

    #[test]
    fn the_delta_method_is_exact_for_a_power_of_one_parameter() {
        // g(θ) = θ₀² θ₁⁻¹: ln g is linear in ln θ with gradient (2, −1), so
        // Var(ln g) = 4 Var(ln θ₀) + Var(ln θ₁) − 4 Cov(ln θ₀, ln θ₁), whatever the step.
        let theta = [2.0, 5.0];
        let cov = vec![vec![0.04, 0.01], vec![0.01, 0.25]];
        let spread = Spread::delta(&theta, &cov, 0.9).unwrap();
        let values: Vec<f64> = spread.sets().iter().map(|s| s[0] * s[0] / s[1]).collect();
        let var: f64 = 4.0 * 0.04 / 4.0 + 0.25 / 25.0 - 4.0 * 0.01 / 10.0;
        let got = spread.positive(&values);
        let z = 1.6448536269514722;
        assert!((got.value - 0.8).abs() < 1e-15);
        assert!((got.upper / got.value - (z * var.sqrt()).exp()).abs() < 1e-7);
        assert!((got.value / got.lower - (z * var.sqrt()).exp()).abs() < 1e-7);
    }

    #[test]
    fn bad_levels_and_covariances_are_refused() {
        assert_eq!(
            Spread::delta(&[1.0], &[vec![1.0]], 1.0).unwrap_err(),
            SpreadError::Level(1.0)
        );
        assert_eq!(
            Spread::delta(&[1.0, 2.0], &[vec![1.0]], 0.9).unwrap_err(),
            SpreadError::Covariance
        );
        assert_eq!(
            Spread::draws(&[1.0], vec![vec![1.0]], 0.9).unwrap_err(),
            SpreadError::Draws
        );
    }
}
