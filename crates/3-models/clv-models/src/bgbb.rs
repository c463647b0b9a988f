//! BG/BB (Fader, Hardie & Shang 2010) for discrete purchase opportunities (annual donations,
//! events, seasons): at each opportunity an active customer buys with probability p ~ Beta(α, β)
//! and drops out before the next with probability θ ~ Beta(γ, δ).
//!
//! A history is x purchases in n opportunities, the last at opportunity t_x. Its likelihood is
//! "still active after n" plus "dropped out after opportunity t_x + i" for i = 0 … n − t_x − 1:
//!
//! L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
//!   + Σᵢ B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ),
//!
//! summed as a log-sum-exp (lifetimes sums it in linear space with a 1e-15 floor).
//! [`Pattern`]'s `t` holds n.

use crate::data::{validate_patterns, Pattern};
use crate::fit::Model;
use crate::hyp2f1::{ln_hyp2f1, Hyp2f1Error};
use statrs::function::beta::ln_beta;
use statrs::function::gamma::{digamma, ln_gamma};

/// The BG/BB model; parameters (α, β, γ, δ).
#[derive(Debug, Clone, Copy, Default)]
pub struct BgBb;

/// Fitted BG/BB parameters, with the predictions they make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgBbParams {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub delta: f64,
}

/// ln B(p, q) with ∂/∂p and ∂/∂q.
fn ln_beta_with_gradient(p: f64, q: f64) -> (f64, f64, f64) {
    let both = digamma(p + q);
    (ln_beta(p, q), digamma(p) - both, digamma(q) - both)
}

/// ℓ(x, t_x, n) at θ = (α, β, γ, δ), adding ∇ℓ into `grad`.
fn row_log_likelihood(theta: &[f64], x: f64, t_x: f64, n: f64, grad: &mut [f64]) -> f64 {
    let (alpha, beta, gamma, delta) = (theta[0], theta[1], theta[2], theta[3]);
    let (ln_b_ab, da_ab, db_ab) = ln_beta_with_gradient(alpha, beta);
    let (ln_b_gd, dg_gd, dd_gd) = ln_beta_with_gradient(gamma, delta);
    // Each term: its log and gradient. Term 0 is "still active"; term 1 + i "dropped after t_x + i".
    let mut terms: Vec<(f64, [f64; 4])> = Vec::with_capacity((n - t_x) as usize + 1);
    let term = |buy_q: f64, life_p: f64, life_q: f64| {
        let (lb, dp, dq) = ln_beta_with_gradient(alpha + x, buy_q);
        let (ll, dlp, dlq) = ln_beta_with_gradient(life_p, life_q);
        (
            lb - ln_b_ab + ll - ln_b_gd,
            [dp - da_ab, dq - db_ab, dlp - dg_gd, dlq - dd_gd],
        )
    };
    terms.push(term(beta + n - x, gamma, delta + n));
    let mut i = 0.0;
    while t_x + i < n {
        terms.push(term(beta + t_x - x + i, gamma + 1.0, delta + t_x + i));
        i += 1.0;
    }
    let big = terms
        .iter()
        .map(|(l, _)| *l)
        .fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = terms.iter().map(|(l, _)| (l - big).exp()).sum();
    for (l, g) in &terms {
        let share = (l - big).exp() / total;
        for k in 0..4 {
            grad[k] += share * g[k];
        }
    }
    big + total.ln()
}

impl BgBbParams {
    pub fn from_slice(p: &[f64]) -> Self {
        BgBbParams {
            alpha: p[0],
            beta: p[1],
            gamma: p[2],
            delta: p[3],
        }
    }

    fn as_array(&self) -> [f64; 4] {
        [self.alpha, self.beta, self.gamma, self.delta]
    }

    /// ℓ(x, t_x, n).
    pub fn log_likelihood(&self, x: f64, t_x: f64, n: f64) -> f64 {
        row_log_likelihood(&self.as_array(), x, t_x, n, &mut [0.0; 4])
    }

    /// P(alive at opportunity n + m | x, t_x, n) (Fader, Hardie & Shang 2010, A10): m = 1 is
    /// "still active at the next opportunity".
    pub fn p_alive(&self, m: f64, x: f64, t_x: f64, n: f64) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        (ln_beta(alpha + x, beta + n - x) - ln_beta(alpha, beta) + ln_beta(gamma, delta + n + m)
            - ln_beta(gamma, delta)
            - self.log_likelihood(x, t_x, n))
        .exp()
        .min(1.0)
    }

    /// Γ(1+δ+k)/Γ(γ+δ+k) − Γ(1+δ+k+m)/Γ(γ+δ+k+m), divided by γ − 1, without cancellation
    /// (both differences change sign together at γ = 1).
    fn survival_difference(&self, k: f64, m: f64) -> f64 {
        let BgBbParams { gamma, delta, .. } = *self;
        let ln_now = ln_gamma(1.0 + delta + k) - ln_gamma(gamma + delta + k);
        let ln_later = ln_gamma(1.0 + delta + k + m) - ln_gamma(gamma + delta + k + m);
        ln_later.exp() * (ln_now - ln_later).exp_m1() / (gamma - 1.0)
    }

    /// E[X(n, n+m) | x, t_x, n]: expected purchases in the next m opportunities (eq. 13).
    pub fn conditional_expected_purchases(&self, m: f64, x: f64, t_x: f64, n: f64) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        (ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta)
            + delta.ln()
            + ln_gamma(gamma + delta)
            - ln_gamma(1.0 + delta)
            - self.log_likelihood(x, t_x, n))
        .exp()
            * self.survival_difference(n, m)
    }

    /// E[X(n)]: expected purchases in the first n opportunities of a new customer (eq. 9).
    pub fn expected_purchases_new(&self, n: f64) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        alpha / (alpha + beta)
            * delta
            * (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp()
            * self.survival_difference(0.0, n)
    }

    /// P(X(n) = x): probability that a new customer makes exactly x purchases in the first n
    /// opportunities (eq. 7).
    pub fn probability_of_purchases(&self, x: u32, n: u32) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (xf, nf) = (x as f64, n as f64);
        let ln_choose =
            |a: f64, b: f64| ln_gamma(a + 1.0) - ln_gamma(b + 1.0) - ln_gamma(a - b + 1.0);
        let (ln_ab, ln_gd) = (ln_beta(alpha, beta), ln_beta(gamma, delta));
        let mut p = (ln_choose(nf, xf) + ln_beta(alpha + xf, beta + nf - xf) - ln_ab
            + ln_beta(gamma, delta + nf)
            - ln_gd)
            .exp();
        for i in x..n {
            let i = i as f64;
            p += (ln_choose(i, xf) + ln_beta(alpha + xf, beta + i - xf) - ln_ab
                + ln_beta(gamma + 1.0, delta + i)
                - ln_gd)
                .exp();
        }
        p
    }

    /// DERT at a discount rate d per opportunity (Fader, Hardie & Shang 2010, eq. 14):
    /// B(α+x+1, β+n−x)/B(α,β) · B(γ, δ+n+1)/(B(γ,δ)(1+d)) · ₂F₁(1, δ+n+1; γ+δ+n+1; 1/(1+d)) / L.
    pub fn discounted_expected_residual_purchases(
        &self,
        d: f64,
        x: f64,
        t_x: f64,
        n: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let ln = ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta)
            + ln_beta(gamma, delta + n + 1.0)
            - ln_beta(gamma, delta)
            - d.ln_1p()
            + ln_hyp2f1(
                1.0,
                delta + n + 1.0,
                gamma + delta + n + 1.0,
                1.0 / (1.0 + d),
            )?
            - self.log_likelihood(x, t_x, n);
        Ok(ln.exp())
    }
}

impl Model for BgBb {
    type Row = Pattern;

    fn names(&self) -> &'static [&'static str] {
        &["alpha", "beta", "gamma", "delta"]
    }

    fn log_likelihood(&self, theta: &[f64], row: &Pattern, grad: &mut [f64]) -> f64 {
        row_log_likelihood(theta, row.x, row.t_x, row.t, grad)
    }

    fn check(&self, rows: &[Pattern]) -> Result<(), String> {
        validate_patterns(rows)?;
        match rows
            .iter()
            .find(|r| r.t.fract() != 0.0 || r.t_x.fract() != 0.0 || r.x > r.t_x)
        {
            Some(r) => Err(format!(
                "BG/BB needs whole numbers of opportunities with x ≤ t_x ≤ n; got x={}, t_x={}, n={}",
                r.x, r.t_x, r.t
            )),
            None => Ok(()),
        }
    }

    fn starts(&self, _rows: &[Pattern]) -> Vec<Vec<f64>> {
        vec![
            vec![1.0, 1.0, 1.0, 1.0],
            vec![0.5, 2.0, 0.5, 3.0],
            vec![2.0, 0.5, 2.0, 0.5],
        ]
    }
}
