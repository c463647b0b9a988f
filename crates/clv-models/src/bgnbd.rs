//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), in the form of
//! Hardie's note 027 that never forms the overflowing terms:
//!
//! ℓ = lnΓ(r+x) − lnΓ(r) + r ln α + lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x) − (r+x) ln(α+t_x)
//!     + ln[ ((α+t_x)/(α+T))^(r+x) + 1[x>0] a/(b+x−1) ],
//!
//! the last term as a log-sum-exp of (r+x)(ln(α+t_x) − ln(α+T)) ≤ 0 and ln a − ln(b+x−1).

use crate::data::{validate_patterns, weighted_mean, Pattern};
use crate::fit::Model;
use crate::hyp2f1::{hyp2f1, ln_hyp2f1, Hyp2f1Error};
use statrs::function::gamma::{digamma, ln_gamma};

/// The BG/NBD model; parameters (r, α, a, b).
#[derive(Debug, Clone, Copy, Default)]
pub struct BgNbd;

/// Fitted BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbdParams {
    pub fn from_slice(p: &[f64]) -> Self {
        BgNbdParams {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        }
    }

    /// E[X(t)]: expected purchases in (0, t] of a customer just acquired (FHL 2005 eq. 9).
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, Hyp2f1Error> {
        let BgNbdParams { r, alpha, a, b } = *self;
        let z = t / (alpha + t);
        let f = hyp2f1(r, b, a + b - 1.0, z)?;
        Ok((a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * f))
    }

    /// E[X(T, T+t] | x, t_x, T]: expected purchases in the next `t` of a customer with this
    /// history (FHL 2005 eq. 10), with the hypergeometric factor and its prefactor combined in
    /// log space so heavy buyers do not overflow.
    pub fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let BgNbdParams { r, alpha, a, b } = *self;
        let z = t / (alpha + big_t + t);
        let c = a + b + x - 1.0;
        let ln_shrink = (r + x) * ((alpha + big_t).ln() - (alpha + big_t + t).ln());
        let bracket = if c > 0.0 {
            -(ln_shrink + ln_hyp2f1(r + x, b + x, c, z)?).exp_m1()
        } else {
            1.0 - ln_shrink.exp() * hyp2f1(r + x, b + x, c, z)?
        };
        Ok(c / (a - 1.0) * bracket * self.p_alive(x, t_x, big_t))
    }

    /// P(alive | x, t_x, T) = 1 / (1 + 1[x>0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)), in log space.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let log_odds =
            a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        // 1 / (1 + e^z), stable for large |z|.
        if log_odds > 0.0 {
            let e = (-log_odds).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + log_odds.exp())
        }
    }
}

fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

impl Model for BgNbd {
    type Row = Pattern;

    fn names(&self) -> &'static [&'static str] {
        &["r", "alpha", "a", "b"]
    }

    fn log_likelihood(&self, theta: &[f64], row: &Pattern, grad: &mut [f64]) -> f64 {
        let (r, alpha, a, b) = (theta[0], theta[1], theta[2], theta[3]);
        let Pattern { x, t_x, t, .. } = *row;
        let ln_tx = (alpha + t_x).ln();
        let ln_t = (alpha + t).ln();
        let d = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x)
            - ln_gamma(b)
            - ln_gamma(a + b + x)
            - (r + x) * ln_tx;
        let still = (r + x) * (ln_tx - ln_t);
        let (tail, w_still, w_dropped) = if x > 0.0 {
            let dropped = a.ln() - (b + x - 1.0).ln();
            let tail = log_add_exp(still, dropped);
            (tail, (still - tail).exp(), (dropped - tail).exp())
        } else {
            (still, 1.0, 0.0)
        };
        grad[0] += digamma(r + x) - digamma(r) + alpha.ln() - ln_tx + w_still * (ln_tx - ln_t);
        grad[1] += r / alpha - (r + x) / (alpha + t_x)
            + w_still * (r + x) * (1.0 / (alpha + t_x) - 1.0 / (alpha + t));
        grad[2] += digamma(a + b) - digamma(a + b + x) + w_dropped / a;
        grad[3] += digamma(a + b) + digamma(b + x)
            - digamma(b)
            - digamma(a + b + x)
            - if x > 0.0 {
                w_dropped / (b + x - 1.0)
            } else {
                0.0
            };
        d + tail
    }

    fn check(&self, rows: &[Pattern]) -> Result<(), String> {
        validate_patterns(rows)
    }

    fn starts(&self, rows: &[Pattern]) -> Vec<Vec<f64>> {
        // α is a time scale: start it at the data's own (mean T), as lifetimes does by rescaling.
        let scale = weighted_mean(rows, |r| r.t).max(1e-6);
        vec![
            vec![1.0, scale, 1.0, 1.0],
            vec![0.1, 0.1 * scale, 0.5, 2.0],
            vec![2.0, 10.0 * scale, 2.0, 5.0],
            vec![0.5, scale, 0.1, 0.1],
        ]
    }
}
