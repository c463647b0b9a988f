//! From a fitted purchase model (and a spend model) to money and dates: discounted expected
//! purchases over a horizon, discounted CLV, and the expected date of the next order.
//!
//! Discounting is continuous at rate δ per model time unit, derived from an annual rate d as
//! δ = ln(1 + d) · (days per unit / 365.2425), so a 10% annual rate means the same whatever the
//! time unit (no "weekly data treated as daily" trap). Over a horizon H, each expected purchase at
//! time u is worth e^(−δu):
//!
//! DEP(H) = ∫₀^H e^(−δu) dCET(u) = e^(−δH) CET(H) + δ ∫₀^H e^(−δu) CET(u) du,
//!
//! integrated by 10-point Gauss–Legendre quadrature (CET is smooth and increasing), and
//! CLV = E[spend per purchase] · DEP(H).

use crate::hyp2f1::Hyp2f1Error;
use crate::purchase::PurchasePredictor;

/// Continuous discount rate per model time unit from an annual rate (0.10 for 10%).
pub fn discount_per_unit(annual_rate: f64, unit_days: f64) -> f64 {
    (1.0 + annual_rate).ln() * unit_days / 365.2425
}

/// 10-point Gauss–Legendre nodes and weights on [−1, 1] (positive half; symmetric): exact for
/// polynomials up to degree 19, ample for the smooth, increasing CET.
const GL_NODES: [f64; 5] = [
    0.14887433898163122,
    0.4333953941292472,
    0.6794095682990244,
    0.8650633666889845,
    0.9739065285171717,
];
const GL_WEIGHTS: [f64; 5] = [
    0.2955242247147528,
    0.2692667193099965,
    0.219086362515982,
    0.1494513491505804,
    0.06667134430868814,
];

/// How expected purchases ahead are discounted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Discounting {
    /// Continuously at `per_unit` per model time unit (see [`discount_per_unit`]).
    Continuous { per_unit: f64 },
    /// The way lifetimes' `customer_lifetime_value` counts, for cross-checking with that peer:
    /// `months` monthly steps of `units_per_month` model units (lifetimes uses 4.345 weeks, 30 days
    /// or 720 hours), each step's expected purchases discounted at the end of the month by
    /// (1 + monthly rate)^k: Σₖ [CET(k·f) − CET((k−1)·f)] / (1 + d_m)^k.
    Monthly {
        months: u32,
        units_per_month: f64,
        monthly_rate: f64,
    },
}

impl Discounting {
    /// (expected purchases, discounted expected purchases) in (T, T+H] for a customer with x
    /// repeat purchases over T who is still active at T. Multiplied by P(alive) they are the
    /// customer's; scoring needs both, and the first is a by-product of the second.
    pub fn if_active<P: PurchasePredictor + ?Sized>(
        &self,
        p: &P,
        horizon: f64,
        x: f64,
        big_t: f64,
    ) -> Result<(f64, f64), Hyp2f1Error> {
        let cet = |u: f64| p.expected_purchases_if_active(u, x, big_t);
        let at_end = cet(horizon)?;
        match *self {
            Discounting::Continuous { per_unit: delta } => {
                if delta == 0.0 || horizon == 0.0 {
                    return Ok((at_end, at_end));
                }
                // One 10-point panel over a horizon that discounting barely bends (a year at 10%
                // is δH ≈ 0.1); over long horizons (a lifetime: 100 years) the integrand rises
                // steeply early and decays late, so geometric panels [H/2^(k+1), H/2^k] follow it.
                let panels = if delta * horizon > 1.0 { 12 } else { 1 };
                let mut integral = 0.0;
                let mut upper = horizon;
                for k in 0..panels {
                    let lower = if k + 1 == panels { 0.0 } else { upper / 2.0 };
                    let (mid, half) = ((upper + lower) / 2.0, (upper - lower) / 2.0);
                    for (node, weight) in GL_NODES.iter().zip(GL_WEIGHTS) {
                        for u in [mid - half * node, mid + half * node] {
                            integral += weight * half * (-delta * u).exp() * cet(u)?;
                        }
                    }
                    upper = lower;
                }
                Ok((at_end, (-delta * horizon).exp() * at_end + delta * integral))
            }
            Discounting::Monthly {
                months,
                units_per_month,
                monthly_rate,
            } => {
                let mut previous = 0.0;
                let mut total = 0.0;
                for k in 1..=months {
                    let now = cet(k as f64 * units_per_month)?;
                    total += (now - previous) / (1.0 + monthly_rate).powi(k as i32);
                    previous = now;
                }
                Ok((at_end, total))
            }
        }
    }

    /// (expected purchases, discounted expected purchases) in (T, T+H] for a customer with
    /// history (x, t_x, T).
    pub fn expected_and_discounted<P: PurchasePredictor + ?Sized>(
        &self,
        p: &P,
        horizon: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<(f64, f64), Hyp2f1Error> {
        let alive = p.p_alive(x, t_x, big_t)?;
        let (expected, discounted) = self.if_active(p, horizon, x, big_t)?;
        Ok((alive * expected, alive * discounted))
    }
}

/// Time to the next purchase of a customer who is still active, as a median: their purchase rate
/// given x purchases over T is Gamma(r + x, α + T) (BG/NBD, MBG/NBD and Pareto/NBD alike), so
/// P(no purchase within u | active) = ((α+T)/(α+T+u))^(r+x), which is ½ at
/// u = (α+T)(2^(1/(r+x)) − 1).
pub fn median_time_to_next_purchase<P: PurchasePredictor + ?Sized>(
    p: &P,
    x: f64,
    big_t: f64,
) -> f64 {
    let (shape, rate) = p.active_rate(x, big_t);
    rate * (2f64.powf(1.0 / shape) - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgnbd::{BgNbdParams, Variant};

    fn cdnow() -> BgNbdParams {
        BgNbdParams::of(Variant::Bg, &[0.2425982, 4.4136842, 0.7929899, 2.4261667])
    }

    #[test]
    fn quadrature_equals_a_fine_discounted_sum() {
        let p = cdnow();
        let delta = discount_per_unit(0.10, 7.0);
        // (x, t_x, T, horizon in weeks)
        for (x, t_x, big_t, h) in [
            (0.0, 0.0, 38.86, 52.18),
            (26.0, 216.0 / 7.0, 31.0, 52.18),
            (3.0, 10.0, 38.0, 260.0),
        ] {
            let continuous = |per_unit| Discounting::Continuous { per_unit };
            let (undiscounted, got) = continuous(delta)
                .expected_and_discounted(&p, h, x, t_x, big_t)
                .unwrap();
            // Naive: the increments of CET over 20,000 small steps, each discounted at its middle.
            let steps = 20_000;
            let mut naive = 0.0;
            let mut previous = 0.0;
            for k in 1..=steps {
                let u = h * k as f64 / steps as f64;
                let now = p.conditional_expected_purchases(u, x, t_x, big_t).unwrap();
                naive += (now - previous) * (-delta * (u - 0.5 * h / steps as f64)).exp();
                previous = now;
            }
            assert!((got - naive).abs() < 1e-7 * naive, "{x}: {got} vs {naive}");
            // Without discounting it is plain CET; with it, less.
            let plain = continuous(0.0)
                .expected_and_discounted(&p, h, x, t_x, big_t)
                .unwrap();
            assert_eq!(plain, (undiscounted, undiscounted));
            assert_eq!(
                undiscounted,
                p.conditional_expected_purchases(h, x, t_x, big_t).unwrap()
            );
            assert!(got < undiscounted);
        }
    }

    #[test]
    fn the_rule_integrates_polynomials_up_to_degree_19_exactly() {
        for k in (0..20).step_by(2) {
            let sum: f64 = GL_NODES
                .iter()
                .zip(GL_WEIGHTS)
                .map(|(x, w)| 2.0 * w * x.powi(k))
                .sum();
            // ∫₋₁¹ x^k dx = 2/(k+1) for even k (odd powers cancel by symmetry).
            assert!(
                (sum - 2.0 / (k as f64 + 1.0)).abs() < 1e-14,
                "degree {k}: {sum}"
            );
        }
    }

    #[test]
    fn rates_per_unit_compound_to_the_annual_rate() {
        for (unit_days, units_per_year) in [(1.0, 365.2425), (7.0, 365.2425 / 7.0), (365.2425, 1.0)]
        {
            let delta = discount_per_unit(0.10, unit_days);
            assert!(((delta * units_per_year).exp() - 1.10).abs() < 1e-12);
        }
    }

    #[test]
    fn median_next_purchase_matches_a_monte_carlo_of_the_fitted_model() {
        // Simulate the BG/NBD process itself; keep customers still active at T with x purchases
        // in (0, T]; their waiting times after T have the closed-form median.
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let p = cdnow();
        let (big_t, want_x) = (30.0, 2.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let rate = Gamma::new(p.r, 1.0 / p.alpha).unwrap();
        let dropout = Beta::new(p.a, p.b).unwrap();
        let mut waits = Vec::new();
        while waits.len() < 20_000 {
            let lambda: f64 = rate.sample(&mut rng);
            let q: f64 = dropout.sample(&mut rng);
            let gap = Exp::new(lambda).unwrap();
            let (mut t, mut x, mut alive) = (0.0, 0.0, true);
            loop {
                let next = t + gap.sample(&mut rng);
                if next > big_t {
                    break;
                }
                t = next;
                x += 1.0;
                if rng.random::<f64>() < q {
                    alive = false;
                    break;
                }
            }
            if alive && x == want_x {
                // Memoryless: the wait after T is a fresh exponential at the same rate.
                waits.push(gap.sample(&mut rng));
            }
        }
        waits.sort_by(f64::total_cmp);
        let simulated = waits[waits.len() / 2];
        let closed = median_time_to_next_purchase(&p, want_x, big_t);
        assert!(
            (simulated - closed).abs() < 0.04 * closed,
            "{simulated} vs {closed}"
        );
    }
}

#[cfg(test)]
mod lifetime_tests {
    use super::*;
    use crate::pareto::ParetoNbdParams;

    #[test]
    fn a_century_of_discounted_purchases_is_pareto_dert() {
        // Published CDNOW Pareto/NBD, weekly; 10% a year. Over 100 years the discount factor falls
        // to 1.1^-100 ≈ 7e-5, so discounted purchases must match DERT (closed form, whole future).
        let p = ParetoNbdParams::from_slice(&[0.5534, 10.5802, 0.6061, 11.6562]);
        let delta = discount_per_unit(0.10, 7.0);
        let horizon = 100.0 * 365.2425 / 7.0;
        for (x, t_x, big_t) in [
            (0.0, 0.0, 39.0),
            (2.0, 30.0, 39.0),
            (20.0, 38.5, 39.0),
            (1.0, 2.0, 78.0),
        ] {
            let (_, got) = Discounting::Continuous { per_unit: delta }
                .expected_and_discounted(&p, horizon, x, t_x, big_t)
                .unwrap();
            let dert = p
                .discounted_expected_residual_purchases(delta, x, t_x, big_t)
                .unwrap();
            // What is left is the tail beyond 100 years, below 1e-4 of the total.
            assert!((got / dert - 1.0).abs() < 1e-4, "{x}: {got} vs DERT {dert}");
        }
    }
}
