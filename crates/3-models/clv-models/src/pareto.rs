//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's note 009): while active a
//! customer buys at a Poisson rate λ ~ Gamma(r, α) and stays active for an exponential lifetime at
//! rate μ ~ Gamma(s, β), in continuous time.
//!
//! The likelihood is used in its all-positive two-term form: with m = max(α, β), Δ = |α − β|,
//! w = r + s + x and (b₁, b₂) = (s+1, s) if α ≥ β else (r+x, r+x+1),
//!
//! ℓ = lnΓ(r+x) − lnΓ(r) + r ln α + s ln β − w ln(m+t_x)
//!     + logaddexp( ln s − ln w + ln F(w, b₁; w+1; Δ/(m+t_x)),
//!                  ln(r+x) − ln w + ln F(w, b₂; w+1; Δ/(m+T)) + w ln((m+t_x)/(m+T)) ),
//!
//! so nothing is subtracted and heavy buyers neither overflow nor cancel. The gradient comes from
//! the derivative series of ₂F₁ (see [`crate::hyp2f1::ln_hyp2f1_with_gradient`]).

use crate::data::{validate_patterns, weighted_mean, Pattern};
use crate::fit::Model;
use crate::hyp2f1::{ln_hyp2f1, ln_hyp2f1_with_gradient, Hyp2f1Error};
use crate::purchase::PurchasePredictor;
use statrs::function::beta::ln_beta;
use statrs::function::gamma::{digamma, ln_gamma};

/// The Pareto/NBD model; parameters (r, α, s, β).
#[derive(Debug, Clone, Copy, Default)]
pub struct ParetoNbd;

/// Fitted Pareto/NBD parameters, with the predictions they make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// ln(e^p + e^q) and the two shares e^p/(e^p+e^q), e^q/(e^p+e^q).
fn log_add_exp(p: f64, q: f64) -> (f64, f64, f64) {
    let big = p.max(q);
    let (ep, eq) = ((p - big).exp(), (q - big).exp());
    let sum = ep + eq;
    (big + sum.ln(), ep / sum, eq / sum)
}

/// −expm1(k·l)/k, the limit −l at k = 0: [1 − e^(k·l)]/k without cancellation for small k.
fn one_minus_power_over(k: f64, l: f64) -> f64 {
    if k == 0.0 {
        -l
    } else {
        -(k * l).exp_m1() / k
    }
}

impl ParetoNbdParams {
    pub fn from_slice(p: &[f64]) -> Self {
        ParetoNbdParams {
            r: p[0],
            alpha: p[1],
            s: p[2],
            beta: p[3],
        }
    }

    fn as_array(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }

    /// ℓ(x, t_x, T): the log-likelihood of one history.
    pub fn log_likelihood(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        row_log_likelihood(&self.as_array(), x, t_x, big_t, None)
    }

    /// ln of the first term of the likelihood: active throughout (0, T].
    fn ln_alive_term(&self, x: f64, big_t: f64) -> f64 {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + big_t).ln()
            - s * (beta + big_t).ln()
    }

    /// P(alive at T | x, t_x, T): the share of the likelihood from still being active.
    pub fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        let ll = self.log_likelihood(x, t_x, big_t)?;
        Ok((self.ln_alive_term(x, big_t) - ll).exp().min(1.0))
    }

    /// E[X(t)] for a customer just acquired: (rβ/(α(s−1)))·[1 − (β/(β+t))^(s−1)].
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        r / alpha * beta * one_minus_power_over(s - 1.0, (beta / (beta + t)).ln())
    }

    /// Expected purchases in (T, T+t] of a customer with x purchases over T who is still active
    /// at T: ((r+x)(β+T)/((α+T)(s−1)))·[1 − ((β+T)/(β+T+t))^(s−1)].
    pub fn expected_purchases_if_active(&self, t: f64, x: f64, big_t: f64) -> f64 {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        (r + x) / (alpha + big_t)
            * (beta + big_t)
            * one_minus_power_over(s - 1.0, ((beta + big_t) / (beta + big_t + t)).ln())
    }

    /// P(X(T, T+t] = n | x, t_x, T) (Fader & Hardie's note 028, eq. 16): three log-space terms,
    /// the last subtracted; tiny negative round-off is clamped to 0.
    pub fn conditional_probability_of_purchases(
        &self,
        n: u32,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        if t <= 0.0 {
            return Ok(if n == 0 { 1.0 } else { 0.0 });
        }
        let nf = n as f64;
        let ll = if big_t > 0.0 {
            self.log_likelihood(x, t_x, big_t)?
        } else {
            0.0
        };
        let (m, p) = if alpha < beta {
            (beta, r + x + nf)
        } else {
            (alpha, s + 1.0)
        };
        let delta = (alpha - beta).abs();
        let base = r * alpha.ln() + s * beta.ln() - ln_gamma(r);
        let ln_p_alive = self.ln_alive_term(x, big_t) - ll;
        let first = nf * t.ln() - ln_gamma(nf + 1.0) + ln_gamma(r + x + nf) + base
            - (r + x + nf) * (alpha + big_t + t).ln()
            - s * (beta + big_t + t).ln()
            - ll;
        let w = r + s + x;
        let shared = base - ln_gamma(s) + ln_beta(r + x + nf, s + 1.0) - ll;
        let second = shared + ln_gamma(w) + ln_hyp2f1(w, p, w + nf + 1.0, delta / (m + big_t))?
            - w * (m + big_t).ln();
        let mut third_terms = Vec::with_capacity(n as usize + 1);
        for i in 0..=n {
            let i = i as f64;
            third_terms.push(
                i * t.ln() - ln_gamma(i + 1.0)
                    + shared
                    + ln_gamma(w + i)
                    + ln_hyp2f1(w + i, p, w + nf + 1.0, delta / (m + big_t + t))?
                    - (w + i) * (m + big_t + t).ln(),
            );
        }
        let big = third_terms
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let third = big
            + third_terms
                .iter()
                .map(|v| (v - big).exp())
                .sum::<f64>()
                .ln();
        let zeroth = if n == 0 { -ln_p_alive.exp_m1() } else { 0.0 };
        Ok((zeroth + first.exp() + second.exp() - third.exp()).clamp(0.0, 1.0))
    }

    /// P(X(t) = n) for a customer just acquired (the conditional form with an empty history).
    pub fn probability_of_purchases(&self, n: u32, t: f64) -> Result<f64, Hyp2f1Error> {
        self.conditional_probability_of_purchases(n, t, 0.0, 0.0, 0.0)
    }

    /// P(X(t) ≤ n) for n = 0, 1, … of a customer just acquired, stopping once it reaches `until`
    /// (or after 10,000 terms).
    pub fn cumulative_probability_of_purchases(
        &self,
        t: f64,
        until: f64,
    ) -> Result<Vec<f64>, Hyp2f1Error> {
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for n in 0..10_000u32 {
            total = (total + self.probability_of_purchases(n, t)?).min(1.0);
            cumulative.push(total);
            if total >= until {
                break;
            }
        }
        Ok(cumulative)
    }

    /// The model of a customer still active at T after x purchases: rates Gamma(r+x, α+T) and
    /// Gamma(s, β+T), memoryless from T on, i.e. a new Pareto/NBD customer.
    pub fn active_continuation(&self, x: f64, big_t: f64) -> ParetoNbdParams {
        ParetoNbdParams {
            r: self.r + x,
            alpha: self.alpha + big_t,
            s: self.s,
            beta: self.beta + big_t,
        }
    }

    /// DERT: discounted expected residual transactions at continuous rate δ per time unit, over
    /// the whole future (Fader, Hardie & Lee 2005, JMR, eq. 2):
    /// α^r β^s δ^(s−1) Γ(r+x+1) U(s, s; δ(β+T)) / (Γ(r) (α+T)^(r+x+1) L), with the Tricomi
    /// function U(s, s; z) = e^z Γ(1−s, z).
    pub fn discounted_expected_residual_purchases(
        &self,
        delta: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        let z = delta * (beta + big_t);
        let ln_u = z + ln_upper_gamma(1.0 - s, z);
        let ln_dert =
            r * alpha.ln() + s * beta.ln() + (s - 1.0) * delta.ln() + ln_gamma(r + x + 1.0) + ln_u
                - ln_gamma(r)
                - (r + x + 1.0) * (alpha + big_t).ln()
                - self.log_likelihood(x, t_x, big_t)?;
        Ok(ln_dert.exp())
    }
}

/// ln Γ(a, z), the upper incomplete gamma function, for any real a and z > 0. For a ≤ 0 it climbs
/// down from an order in (0, 1] by Γ(a, z) = (Γ(a+1, z) − z^a e^(−z))/a. That recurrence divides
/// by zero on the way to a whole a ≤ 0 (s = 1, 2, …), so there it averages the orders a ± 1e-6
/// (Γ(a, z) is smooth in a; the average is off by about 1e-12, the cancellation by about 1e-10).
fn ln_upper_gamma(a: f64, z: f64) -> f64 {
    use statrs::function::gamma::gamma_ur;
    if a > 0.0 {
        return gamma_ur(a, z).ln() + ln_gamma(a);
    }
    if (a - a.round()).abs() < 1e-6 {
        let whole = a.round();
        return 0.5 * (ln_upper_gamma(whole - 1e-6, z) + ln_upper_gamma(whole + 1e-6, z));
    }
    let steps = (-a).ceil();
    let mut order = a + steps;
    let mut value = gamma_ur(order, z) * ln_gamma(order).exp();
    for _ in 0..steps as u32 {
        order -= 1.0;
        value = (value - z.powf(order) * (-z).exp()) / order;
    }
    value.ln()
}

/// ℓ of one history at θ = (r, α, s, β), adding ∇ℓ into `grad` when given.
fn row_log_likelihood(
    theta: &[f64],
    x: f64,
    t_x: f64,
    big_t: f64,
    grad: Option<&mut [f64]>,
) -> Result<f64, Hyp2f1Error> {
    let (r, alpha, s, beta) = (theta[0], theta[1], theta[2], theta[3]);
    let alpha_is_max = alpha >= beta;
    let (m, delta) = if alpha_is_max {
        (alpha, alpha - beta)
    } else {
        (beta, beta - alpha)
    };
    let w = r + s + x;
    let (b1, b2) = if alpha_is_max {
        (s + 1.0, s)
    } else {
        (r + x, r + x + 1.0)
    };
    let (m_tx, m_t) = (m + t_x, m + big_t);
    let (ln_mtx, ln_mt) = (m_tx.ln(), m_t.ln());
    let (z1, z2) = (delta / m_tx, delta / m_t);
    let ll_from = |g1: f64, g2: f64| {
        let a2 = s.ln() - w.ln() + g1;
        let a3 = (r + x).ln() - w.ln() + g2 + w * (ln_mtx - ln_mt);
        let (lse, p2, p3) = log_add_exp(a2, a3);
        let ll = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln() - w * ln_mtx + lse;
        (ll, p2, p3)
    };
    let Some(grad) = grad else {
        // Predictions need the value only: no derivative series.
        let (g1, g2) = (
            ln_hyp2f1(w, b1, w + 1.0, z1)?,
            ln_hyp2f1(w, b2, w + 1.0, z2)?,
        );
        return Ok(ll_from(g1, g2).0);
    };
    let (g1, d1) = ln_hyp2f1_with_gradient(w, b1, w + 1.0, z1)?;
    let (g2, d2) = ln_hyp2f1_with_gradient(w, b2, w + 1.0, z2)?;
    let (ll, p2, p3) = ll_from(g1, g2);
    // Through w = r+s+x both a and c = w+1 of each ₂F₁ move; b moves with s (α ≥ β) or r.
    let dg_dw = |d: &[f64; 4]| d[0] + d[2];
    let (dg1_dr, dg1_ds) = if alpha_is_max {
        (dg_dw(&d1), dg_dw(&d1) + d1[1])
    } else {
        (dg_dw(&d1) + d1[1], dg_dw(&d1))
    };
    let (dg2_dr, dg2_ds) = if alpha_is_max {
        (dg_dw(&d2), dg_dw(&d2) + d2[1])
    } else {
        (dg_dw(&d2) + d2[1], dg_dw(&d2))
    };
    // ∂z/∂α, ∂z/∂β for z = Δ/(m+t), and ∂m/∂α, ∂m/∂β.
    let dz = |t: f64| {
        if alpha_is_max {
            ((beta + t) / ((alpha + t) * (alpha + t)), -1.0 / (alpha + t))
        } else {
            (-1.0 / (beta + t), (alpha + t) / ((beta + t) * (beta + t)))
        }
    };
    let (dm_da, dm_db) = if alpha_is_max { (1.0, 0.0) } else { (0.0, 1.0) };
    let (dz1_da, dz1_db) = dz(t_x);
    let (dz2_da, dz2_db) = dz(big_t);
    let ratio_term = ln_mtx - ln_mt;
    let d_shift = w * (1.0 / m_tx - 1.0 / m_t);

    let da2 = [
        -1.0 / w + dg1_dr,
        d1[3] * dz1_da,
        1.0 / s - 1.0 / w + dg1_ds,
        d1[3] * dz1_db,
    ];
    let da3 = [
        1.0 / (r + x) - 1.0 / w + dg2_dr + ratio_term,
        d2[3] * dz2_da + d_shift * dm_da,
        -1.0 / w + dg2_ds + ratio_term,
        d2[3] * dz2_db + d_shift * dm_db,
    ];
    let own = [
        digamma(r + x) - digamma(r) + alpha.ln() - ln_mtx,
        r / alpha - w / m_tx * dm_da,
        beta.ln() - ln_mtx,
        s / beta - w / m_tx * dm_db,
    ];
    for i in 0..4 {
        grad[i] += own[i] + p2 * da2[i] + p3 * da3[i];
    }
    Ok(ll)
}

impl Model for ParetoNbd {
    type Row = Pattern;

    fn names(&self) -> &'static [&'static str] {
        &["r", "alpha", "s", "beta"]
    }

    fn log_likelihood(&self, theta: &[f64], row: &Pattern, grad: &mut [f64]) -> f64 {
        // An argument the hypergeometric function cannot take makes the point unusable; the
        // optimiser backs off from a non-finite value.
        row_log_likelihood(theta, row.x, row.t_x, row.t, Some(grad)).unwrap_or(f64::NAN)
    }

    fn check(&self, rows: &[Pattern]) -> Result<(), String> {
        validate_patterns(rows)
    }

    fn starts(&self, rows: &[Pattern]) -> Vec<Vec<f64>> {
        // α and β are time scales: start them at the data's own (mean T).
        let scale = weighted_mean(rows, |r| r.t).max(1e-6);
        vec![
            vec![0.5, 0.5 * scale, 0.5, 0.5 * scale],
            vec![1.0, scale, 1.0, 2.0 * scale],
            vec![0.2, 0.1 * scale, 2.0, 5.0 * scale],
            vec![2.0, 5.0 * scale, 0.2, 0.2 * scale],
        ]
    }
}

impl PurchasePredictor for ParetoNbdParams {
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        ParetoNbdParams::p_alive(self, x, t_x, big_t)
    }
    fn expected_purchases_if_active(&self, t: f64, x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        Ok(ParetoNbdParams::expected_purchases_if_active(
            self, t, x, big_t,
        ))
    }
    fn active_rate(&self, x: f64, big_t: f64) -> (f64, f64) {
        (self.r + x, self.alpha + big_t)
    }
    fn cumulative_purchases_if_active(
        &self,
        t: f64,
        x: f64,
        big_t: f64,
        until: f64,
    ) -> Result<Vec<f64>, Hyp2f1Error> {
        self.active_continuation(x, big_t)
            .cumulative_probability_of_purchases(t, until)
    }
}
