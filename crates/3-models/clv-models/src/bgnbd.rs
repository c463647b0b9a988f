//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and MBG/NBD
//! (Batislam et al. 2007, with Wagner & Hoppe's correction; as lifetimes codes it), one family:
//! purchases at a Poisson rate λ ~ Gamma(r, α), and after each purchase the customer drops out
//! with probability p ~ Beta(a, b). MBG/NBD also lets a customer drop out right after the first
//! purchase, which shifts every beta term by one: with s = 0 (BG) or 1 (MBG),
//!
//! ℓ = lnΓ(r+x) − lnΓ(r) + r ln α + lnΓ(a+b) + lnΓ(b+x+s) − lnΓ(b) − lnΓ(a+b+x+s) − (r+x) ln(α+t_x)
//!     + ln[ ((α+t_x)/(α+T))^(r+x) + 1[x+s>0] a/(b+x+s−1) ]
//!
//! (Hardie's note 027 form for BG/NBD), the last term as a log-sum-exp so nothing overflows.

use crate::data::{validate_patterns, weighted_mean, Pattern};
use crate::fit::Model;
use crate::hyp2f1::{hyp2f1, ln_hyp2f1, Hyp2f1Error};
use crate::purchase::PurchasePredictor;
use statrs::function::gamma::{digamma, ln_gamma};

/// Which member of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// BG/NBD: dropout only after repeat purchases.
    Bg,
    /// MBG/NBD: dropout also possible right after the first purchase.
    Mbg,
}

impl Variant {
    fn shift(self) -> f64 {
        match self {
            Variant::Bg => 0.0,
            Variant::Mbg => 1.0,
        }
    }
}

/// The BG/NBD model; parameters (r, α, a, b).
#[derive(Debug, Clone, Copy, Default)]
pub struct BgNbd;

/// The MBG/NBD model; parameters (r, α, a, b).
#[derive(Debug, Clone, Copy, Default)]
pub struct MbgNbd;

/// Fitted parameters of either model, with the predictions they make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub variant: Variant,
}

impl BgNbdParams {
    /// BG/NBD parameters from (r, α, a, b).
    pub fn from_slice(p: &[f64]) -> Self {
        Self::of(Variant::Bg, p)
    }

    pub fn of(variant: Variant, p: &[f64]) -> Self {
        BgNbdParams {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
            variant,
        }
    }

    /// E[X(t)]: expected purchases in (0, t] of a customer just acquired (FHL 2005 eq. 9). It is
    /// the conditional expectation (FHL 2005 eq. 10, [`PurchasePredictor`]'s) for an empty history
    /// (x = t_x = T = 0); P(alive) is 1 there for BG/NBD, not for MBG/NBD.
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, Hyp2f1Error> {
        Ok(self.p_alive(0.0, 0.0, 0.0) * self.expected_purchases_if_active(t, 0.0, 0.0)?)
    }

    /// Expected purchases in (T, T+t] of a customer with x repeat purchases over T who is still
    /// active at T, with the hypergeometric factor and its prefactor combined in log space so
    /// heavy buyers do not overflow.
    pub fn expected_purchases_if_active(
        &self,
        t: f64,
        x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let BgNbdParams { r, alpha, a, b, .. } = *self;
        let s = self.variant.shift();
        let z = t / (alpha + big_t + t);
        let c = a + b + x + s - 1.0;
        let ln_shrink = (r + x) * ((alpha + big_t).ln() - (alpha + big_t + t).ln());
        let bracket = if c > 0.0 {
            -(ln_shrink + ln_hyp2f1(r + x, b + x + s, c, z)?).exp_m1()
        } else {
            1.0 - ln_shrink.exp() * hyp2f1(r + x, b + x + s, c, z)?
        };
        Ok(c / (a - 1.0) * bracket)
    }

    /// P(X(t) = n): probability that a customer just acquired makes exactly n repeat purchases in
    /// (0, t] (FHL 2005 eq. 8; the MBG/NBD form shifts the beta terms by one):
    /// B(a, b+n+s)/B(a,b) · NB(n) + 1[n+s>0] B(a+1, b+n+s−1)/B(a,b) · P(NB ≥ n),
    /// with NB the negative binomial count of an active customer, each term built in log space.
    pub fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        use statrs::function::beta::ln_beta;
        let BgNbdParams { r, alpha, a, b, .. } = *self;
        let s = self.variant.shift();
        let nf = n as f64;
        let (ln_stay, ln_go) = ((alpha / (alpha + t)).ln(), (t / (alpha + t)).ln());
        let ln_nb =
            |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + r * ln_stay + j * ln_go;
        let ln_b = ln_beta(a, b);
        let first = (ln_beta(a, b + nf + s) - ln_b + ln_nb(nf)).exp();
        if nf + s == 0.0 {
            return first;
        }
        let below: f64 = (0..n).map(|j| ln_nb(j as f64).exp()).sum();
        let tail = (1.0 - below).max(0.0);
        first + (ln_beta(a + 1.0, b + nf + s - 1.0) - ln_b).exp() * tail
    }

    /// P(X(t) ≤ n) for n = 0, 1, … of a customer just acquired, stopping once it reaches
    /// `until` (or after 100,000 terms): the terms of [`Self::probability_of_purchases`] summed in
    /// one pass, keeping the negative binomial's running total instead of resumming it.
    pub fn cumulative_probability_of_purchases(&self, t: f64, until: f64) -> Vec<f64> {
        use statrs::function::beta::ln_beta;
        let BgNbdParams { r, alpha, a, b, .. } = *self;
        let s = self.variant.shift();
        let (ln_stay, ln_go) = ((alpha / (alpha + t)).ln(), (t / (alpha + t)).ln());
        let ln_b = ln_beta(a, b);
        let mut cumulative = Vec::new();
        let (mut total, mut below, mut ln_nb): (f64, f64, f64) = (0.0, 0.0, r * ln_stay);
        for n in 0..100_000u32 {
            let nf = n as f64;
            if n > 0 {
                // NB(n)/NB(n−1) = (r+n−1)/n · t/(α+t)
                ln_nb += (r + nf - 1.0).ln() - nf.ln() + ln_go;
            }
            let mut p = (ln_beta(a, b + nf + s) - ln_b + ln_nb).exp();
            if nf + s > 0.0 {
                p += (ln_beta(a + 1.0, b + nf + s - 1.0) - ln_b).exp() * (1.0 - below).max(0.0);
            }
            below += ln_nb.exp();
            total = (total + p).min(1.0);
            cumulative.push(total);
            if total >= until {
                break;
            }
        }
        cumulative
    }

    /// The model of a customer still active at T after x repeat purchases: purchase rate
    /// Gamma(r+x, α+T) and dropout Beta(a, b+x+s) (x + s dropout chances survived), who from then
    /// on drops out only after purchases, i.e. a new BG/NBD customer.
    pub fn active_continuation(&self, x: f64, big_t: f64) -> BgNbdParams {
        BgNbdParams {
            r: self.r + x,
            alpha: self.alpha + big_t,
            a: self.a,
            b: self.b + x + self.variant.shift(),
            variant: Variant::Bg,
        }
    }

    /// P(alive | x, t_x, T) = 1 / (1 + 1[x+s>0] · a/(b+x+s−1) · ((α+T)/(α+t_x))^(r+x)).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let s = self.variant.shift();
        if x + s == 0.0 {
            return 1.0;
        }
        let BgNbdParams { r, alpha, a, b, .. } = *self;
        let log_odds =
            a.ln() - (b + x + s - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln());
        // 1 / (1 + e^z), stable for large |z|.
        if log_odds > 0.0 {
            let e = (-log_odds).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + log_odds.exp())
        }
    }
}

/// Log-gamma and digamma values and logs of the parameters alone.
struct ParamTerms {
    ln_alpha: f64,
    ln_a: f64,
    ln_gamma_r: f64,
    ln_gamma_b: f64,
    ln_gamma_ab: f64,
    psi_r: f64,
    psi_b: f64,
    psi_ab: f64,
}

impl ParamTerms {
    fn new(theta: &[f64]) -> Self {
        let (r, alpha, a, b) = (theta[0], theta[1], theta[2], theta[3]);
        ParamTerms {
            ln_alpha: alpha.ln(),
            ln_a: a.ln(),
            ln_gamma_r: ln_gamma(r),
            ln_gamma_b: ln_gamma(b),
            ln_gamma_ab: ln_gamma(a + b),
            psi_r: digamma(r),
            psi_b: digamma(b),
            psi_ab: digamma(a + b),
        }
    }
}

/// The parts of ℓ and ∇ℓ that depend on x but not on t_x or T.
#[derive(Clone, Copy)]
struct XTerms {
    x: f64,
    /// b + x + s − 1: the denominator of the dropout odds.
    b_x: f64,
    ln_alpha: f64,
    /// ln a − ln(b+x+s−1), or −∞ when a dropout term does not exist (BG/NBD, x = 0).
    ln_dropped: f64,
    /// lnΓ(r+x) − lnΓ(r) + lnΓ(a+b) + lnΓ(b+x+s) − lnΓ(b) − lnΓ(a+b+x+s)
    ln_gammas: f64,
    /// ψ(r+x) − ψ(r)
    d_r: f64,
    /// ψ(a+b) − ψ(a+b+x+s)
    d_a: f64,
    /// ψ(a+b) + ψ(b+x+s) − ψ(b) − ψ(a+b+x+s)
    d_b: f64,
}

impl XTerms {
    fn new(theta: &[f64], x: f64, p: &ParamTerms, s: f64) -> Self {
        let (r, a, b) = (theta[0], theta[2], theta[3]);
        let k = x + s;
        let psi_abk = digamma(a + b + k);
        XTerms {
            x,
            b_x: b + k - 1.0,
            ln_alpha: p.ln_alpha,
            ln_dropped: if k > 0.0 {
                p.ln_a - (b + k - 1.0).ln()
            } else {
                f64::NEG_INFINITY
            },
            ln_gammas: ln_gamma(r + x) - p.ln_gamma_r + p.ln_gamma_ab + ln_gamma(b + k)
                - p.ln_gamma_b
                - ln_gamma(a + b + k),
            d_r: digamma(r + x) - p.psi_r,
            d_a: p.psi_ab - psi_abk,
            d_b: p.psi_ab + digamma(b + k) - p.psi_b - psi_abk,
        }
    }
}

/// `weight` · ℓ of one row, adding `weight` · ∇ℓ into `grad`.
fn row_log_likelihood(
    theta: &[f64],
    row: &Pattern,
    k: &XTerms,
    grad: &mut [f64],
    weight: f64,
) -> f64 {
    let (r, alpha, a) = (theta[0], theta[1], theta[2]);
    let Pattern { x, t_x, t, .. } = *row;
    let ln_tx = (alpha + t_x).ln();
    let ln_t = (alpha + t).ln();
    let still = (r + x) * (ln_tx - ln_t);
    // ln(e^still + e^dropped) and the two shares, from one exp and one ln_1p.
    let (tail, w_still, w_dropped) = if k.ln_dropped > f64::NEG_INFINITY {
        let d = k.ln_dropped - still;
        let e = (-d.abs()).exp();
        let big = 1.0 / (1.0 + e);
        if d > 0.0 {
            (k.ln_dropped + e.ln_1p(), 1.0 - big, big)
        } else {
            (still + e.ln_1p(), big, 1.0 - big)
        }
    } else {
        (still, 1.0, 0.0)
    };
    grad[0] += weight * (k.d_r + k.ln_alpha - ln_tx + w_still * (ln_tx - ln_t));
    grad[1] += weight
        * (r / alpha - (r + x) / (alpha + t_x)
            + w_still * (r + x) * (1.0 / (alpha + t_x) - 1.0 / (alpha + t)));
    grad[2] += weight * (k.d_a + w_dropped / a);
    // Without a dropout term (BG/NBD, x = 0) b + x − 1 may be 0, at b = 1: no share to divide.
    let dropped_b = if w_dropped > 0.0 {
        w_dropped / k.b_x
    } else {
        0.0
    };
    grad[3] += weight * (k.d_b - dropped_b);
    weight * (k.ln_gammas + r * k.ln_alpha - (r + x) * ln_tx + tail)
}

/// Rows arrive sorted by x (see `Patterns::compress`), so the log-gamma and digamma terms, which
/// depend only on x and the parameters, are computed once per distinct x.
fn family_chunk(theta: &[f64], rows: &[Pattern], grad: &mut [f64], variant: Variant) -> f64 {
    let params = ParamTerms::new(theta);
    let s = variant.shift();
    let mut terms: Option<XTerms> = None;
    let mut ll = 0.0;
    for row in rows {
        let t = match terms {
            Some(t) if t.x == row.x => t,
            _ => XTerms::new(theta, row.x, &params, s),
        };
        terms = Some(t);
        ll += row_log_likelihood(theta, row, &t, grad, row.weight);
    }
    ll
}

fn family_starts(rows: &[Pattern]) -> Vec<Vec<f64>> {
    // α is a time scale: start it at the data's own (mean T), as lifetimes does by rescaling.
    let scale = weighted_mean(rows, |r| r.t).max(1e-6);
    vec![
        vec![1.0, scale, 1.0, 1.0],
        vec![0.1, 0.1 * scale, 0.5, 2.0],
        vec![2.0, 10.0 * scale, 2.0, 5.0],
        vec![0.5, scale, 0.1, 0.1],
    ]
}

macro_rules! family_model {
    ($model:ty, $variant:expr) => {
        impl Model for $model {
            type Row = Pattern;

            fn names(&self) -> &'static [&'static str] {
                &["r", "alpha", "a", "b"]
            }

            fn log_likelihood(&self, theta: &[f64], row: &Pattern, grad: &mut [f64]) -> f64 {
                let one = Pattern {
                    weight: 1.0,
                    ..*row
                };
                family_chunk(theta, &[one], grad, $variant)
            }

            fn chunk_log_likelihood(
                &self,
                theta: &[f64],
                rows: &[Pattern],
                grad: &mut [f64],
            ) -> f64 {
                family_chunk(theta, rows, grad, $variant)
            }

            fn check(&self, rows: &[Pattern]) -> Result<(), String> {
                validate_patterns(rows)
            }

            fn starts(&self, rows: &[Pattern]) -> Vec<Vec<f64>> {
                family_starts(rows)
            }
        }
    };
}

family_model!(BgNbd, Variant::Bg);
family_model!(MbgNbd, Variant::Mbg);

impl PurchasePredictor for BgNbdParams {
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        Ok(BgNbdParams::p_alive(self, x, t_x, big_t))
    }
    fn expected_purchases_if_active(&self, t: f64, x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        BgNbdParams::expected_purchases_if_active(self, t, x, big_t)
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
        Ok(self
            .active_continuation(x, big_t)
            .cumulative_probability_of_purchases(t, until))
    }
}
