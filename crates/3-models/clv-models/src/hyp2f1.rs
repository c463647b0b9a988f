//! The Gauss hypergeometric function ₂F₁(a, b; c; z) for the real arguments the purchase models
//! need (0 ≤ z < 1). No maintained Rust crate provides it for real arguments, hence this module.
//!
//! With a, b, c > 0 every series term is positive, so the sum is accumulated with rescaling and
//! returned as a logarithm: it never overflows, however large the purchase count in `a` and `b`. When c lies in (−1, 0)
//! (BG/NBD with a + b < 1 and x = 0, lifetimes#442) every term after the first has the sign of c
//! and the series is summed with signs. For z near 1, where the series needs many terms, the
//! 1 − z transformation is used wherever it is well conditioned. Other arguments are refused with
//! an error rather than answered wrongly; nothing panics.

/// Why ₂F₁ could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Hyp2f1Error {
    #[error("2F1({a}, {b}; {c}; {z}) is outside the supported domain (0 ≤ z < 1, a, b > 0, c > −1, c ≠ 0)")]
    Domain { a: f64, b: f64, c: f64, z: f64 },
    #[error("2F1({a}, {b}; {c}; {z}) series did not converge in {terms} terms")]
    NoConvergence {
        a: f64,
        b: f64,
        c: f64,
        z: f64,
        terms: usize,
    },
}

const MAX_TERMS: usize = 1_000_000;

/// Above this z, or above this many expected series terms, the 1 − z transformation takes over
/// where it is well conditioned.
const TRANSFORM_ABOVE: f64 = 0.99;
const TRANSFORM_TERMS: f64 = 20_000.0;

/// Roughly how many terms the positive series needs: the terms grow until the ratio
/// (a+n)(b+n)z / ((c+n)(n+1)) falls to 1, then shrink geometrically at about z.
fn series_terms(a: f64, b: f64, c: f64, z: f64) -> f64 {
    // (1−z)n² − ((a+b)z − c − 1)n − (abz − c) = 0 at the peak.
    let lin = (a + b) * z - c - 1.0;
    let disc = lin * lin + 4.0 * (1.0 - z) * (a * b * z - c);
    let peak = if disc > 0.0 {
        ((lin + disc.sqrt()) / (2.0 * (1.0 - z))).max(0.0)
    } else {
        0.0
    };
    peak + 40.0 / (1.0 - z)
}

/// ln ₂F₁(a, b; c; z) for a, b, c > 0 and 0 ≤ z < 1.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, Hyp2f1Error> {
    if !(a > 0.0 && b > 0.0 && c > 0.0 && (0.0..1.0).contains(&z)) {
        return Err(Hyp2f1Error::Domain { a, b, c, z });
    }
    if z > TRANSFORM_ABOVE || series_terms(a, b, c, z) > TRANSFORM_TERMS {
        let d = c - a - b;
        let transformed = if (d - d.round()).abs() < DEGENERATE {
            ln_hyp2f1_near_one_degenerate(a, b, c, z)
        } else {
            ln_hyp2f1_near_one(a, b, c, z)
        };
        if let Some(ln) = transformed {
            return Ok(ln);
        }
    }
    positive_series(a, b, c, z, false).map(|(ln, _)| ln)
}

/// ln ₂F₁(a, b; c; z) and its partial derivatives with respect to (a, b, c, z), for a, b, c > 0
/// and 0 ≤ z < 1: the likelihood gradients of Pareto/NBD need them. Each series term
/// tₙ = (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ has ∂tₙ/∂a = tₙ Σₖ<ₙ 1/(a+k) (likewise b, and c with a minus
/// sign) and ∂tₙ/∂z = n tₙ/z, so the derivatives are series of positive terms summed alongside.
pub fn ln_hyp2f1_with_gradient(
    a: f64,
    b: f64,
    c: f64,
    z: f64,
) -> Result<(f64, [f64; 4]), Hyp2f1Error> {
    if !(a > 0.0 && b > 0.0 && c > 0.0 && (0.0..1.0).contains(&z)) {
        return Err(Hyp2f1Error::Domain { a, b, c, z });
    }
    // Where the value takes the transformation, so does the gradient (the same conditions: the
    // transformation is not trusted elsewhere).
    if z > TRANSFORM_ABOVE || series_terms(a, b, c, z) > TRANSFORM_TERMS {
        if let Some(found) = near_one_with_gradient(a, b, c, z) {
            return Ok(found);
        }
    }
    positive_series(a, b, c, z, true)
}

/// ln ₂F₁ by the 1 − z transformation, with its gradient by central differences of the same:
/// where the power series (and its derivative series) would take up to a million terms, as on
/// Pareto/NBD's ridge of large s and β (an evaluation took 1.3 s at β = 10⁵), the transformation
/// takes a few hundred. Steps are relative (10⁻⁵), so the derivatives carry about ten digits;
/// `None` where the transformation is ill-conditioned at any of the nine points.
fn near_one_with_gradient(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, [f64; 4])> {
    let f = |a: f64, b: f64, c: f64, z: f64| {
        let d = c - a - b;
        if (d - d.round()).abs() < DEGENERATE {
            ln_hyp2f1_near_one_degenerate(a, b, c, z)
        } else {
            ln_hyp2f1_near_one(a, b, c, z)
        }
    };
    let value = f(a, b, c, z)?;
    let step = |x: f64| 1e-5 * x.abs().max(1.0);
    let (ha, hb, hc, hz) = (step(a), step(b), step(c), 1e-5 * (1.0 - z).min(z));
    let central = |up: Option<f64>, down: Option<f64>, h: f64| Some((up? - down?) / (2.0 * h));
    let grad = [
        central(f(a + ha, b, c, z), f(a - ha, b, c, z), ha)?,
        central(f(a, b + hb, c, z), f(a, b - hb, c, z), hb)?,
        central(f(a, b, c + hc, z), f(a, b, c - hc, z), hc)?,
        central(f(a, b, c, z + hz), f(a, b, c, z - hz), hz)?,
    ];
    grad.iter().all(|g| g.is_finite()).then_some((value, grad))
}

/// The power series with positive terms, accumulated in linear space with rescaling (as exact as
/// a log-space sum and several times faster: scoring evaluates millions of these), optionally
/// with the derivative series.
fn positive_series(
    a: f64,
    b: f64,
    c: f64,
    z: f64,
    with_gradient: bool,
) -> Result<(f64, [f64; 4]), Hyp2f1Error> {
    if z == 0.0 {
        // ∂F/∂z at 0 is ab/c; the parameter derivatives vanish.
        return Ok((0.0, [0.0, 0.0, 0.0, a * b / c]));
    }
    const RESCALE: f64 = 1e280;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut ln_scale = 0.0f64;
    // Σ 1/(a+k), Σ 1/(b+k), Σ 1/(c+k) over k < n, and the derivative sums.
    let (mut ha, mut hb, mut hc) = (0.0f64, 0.0f64, 0.0f64);
    let mut d = [0.0f64; 4];
    for n in 0..MAX_TERMS {
        let n = n as f64;
        let ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        term *= ratio;
        sum += term;
        if with_gradient {
            ha += 1.0 / (a + n);
            hb += 1.0 / (b + n);
            hc += 1.0 / (c + n);
            d[0] += term * ha;
            d[1] += term * hb;
            d[2] += term * hc;
            d[3] += term * (n + 1.0);
        }
        if sum > RESCALE {
            sum /= RESCALE;
            term /= RESCALE;
            d.iter_mut().for_each(|v| *v /= RESCALE);
            ln_scale += RESCALE.ln();
        }
        // Terms shrink from here on and the rest of the geometric tail is negligible (the
        // derivative terms grow only like a logarithm, or n for z, of the same terms).
        if ratio < 1.0
            && term * (1.0 + if with_gradient { n * n } else { 0.0 }) <= 1e-17 * sum * (1.0 - ratio)
        {
            let grad = [d[0] / sum, d[1] / sum, -d[2] / sum, d[3] / (z * sum)];
            return Ok((sum.ln() + ln_scale, grad));
        }
    }
    Err(Hyp2f1Error::NoConvergence {
        a,
        b,
        c,
        z,
        terms: MAX_TERMS,
    })
}

/// ln|Γ(x)| and the sign of Γ(x), or `None` at the poles (0, −1, −2, …).
fn ln_gamma_signed(x: f64) -> Option<(f64, f64)> {
    use statrs::function::gamma::ln_gamma;
    if x > 0.0 {
        return Some((ln_gamma(x), 1.0));
    }
    if x == x.floor() {
        return None;
    }
    // Reflection: Γ(x) = π / (sin(πx) Γ(1 − x)).
    let sin = (std::f64::consts::PI * x).sin();
    Some((
        std::f64::consts::PI.ln() - sin.abs().ln() - ln_gamma(1.0 - x),
        sin.signum(),
    ))
}

/// ln ₂F₁ by the 1 − z transformation (DLMF 15.8.4), for z near 1 where the power series is slow:
/// F(a,b;c;z) = Γ(c)Γ(d)/(Γ(c−a)Γ(c−b)) F(a,b;1−d;1−z)
///            + (1−z)^d Γ(c)Γ(−d)/(Γ(a)Γ(b)) F(c−a,c−b;1+d;1−z),  d = c − a − b.
/// `None` where it is ill-conditioned (d near an integer, where the gamma factors blow up, or the
/// two parts cancel); the caller then sums the power series.
fn ln_hyp2f1_near_one(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let d = c - a - b;
    if (d - d.round()).abs() < DEGENERATE {
        return None;
    }
    let y = 1.0 - z;
    let (ln_gc, _) = ln_gamma_signed(c)?;
    // A part whose 1/Γ factor is at a pole is zero.
    let part = |num: f64,
                den1: f64,
                den2: f64,
                p: f64,
                q: f64,
                r: f64,
                ln_pre: f64|
     -> Option<(f64, f64)> {
        let (ln_num, s_num) = ln_gamma_signed(num)?;
        let (Some((ln_d1, s1)), Some((ln_d2, s2))) = (ln_gamma_signed(den1), ln_gamma_signed(den2))
        else {
            return Some((f64::NEG_INFINITY, 0.0));
        };
        let (ln_f, s_f) = signed_series(p, q, r, y)?;
        Some((
            ln_pre + ln_gc + ln_num - ln_d1 - ln_d2 + ln_f,
            s_num * s1 * s2 * s_f,
        ))
    };
    let (ln1, s1) = part(d, c - a, c - b, a, b, 1.0 - d, 0.0)?;
    let (ln2, s2) = part(-d, a, b, c - a, c - b, 1.0 + d, d * y.ln())?;
    let big = ln1.max(ln2);
    if !big.is_finite() {
        return None;
    }
    let total = s1 * (ln1 - big).exp() + s2 * (ln2 - big).exp();
    // Parts of opposite sign cancel; losing more than three digits is not worth it, and the
    // series decides instead.
    if total.is_nan() || total <= 1e-3 {
        return None;
    }
    let ln = big + total.ln();
    ln.is_finite().then_some(ln)
}

/// How close c − a − b may come to an integer before the 1 − z transformation is not used as is:
/// its two parts grow like 1/distance and cancel, so this much costs under three digits.
const DEGENERATE: f64 = 0.004;

/// The 1 − z transformation when c − a − b is within [`DEGENERATE`] of an integer k, where its
/// gamma factors have poles that cancel. F is analytic in its parameters, so ln F is interpolated
/// (Lagrange, six nodes) from transformed values at c − a − b = k ± {1, 2, 3}·DEGENERATE, reached
/// by shifting the larger of a, b. The interpolation error is the sixth derivative times
/// (3·DEGENERATE)⁶/720; the mpmath tests bound it.
fn ln_hyp2f1_near_one_degenerate(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let d = c - a - b;
    let offset = d - d.round();
    let shift_a = a >= b;
    let nodes: Vec<f64> = [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]
        .iter()
        .map(|k| k * DEGENERATE)
        .collect();
    // Moving a or b up by δ moves c − a − b down by δ: node e needs δ = offset − e.
    let mut values = Vec::with_capacity(nodes.len());
    for &e in &nodes {
        let delta = offset - e;
        let (a2, b2) = if shift_a {
            (a + delta, b)
        } else {
            (a, b + delta)
        };
        if a2 <= 0.0 || b2 <= 0.0 {
            return None;
        }
        values.push(ln_hyp2f1_near_one(a2, b2, c, z)?);
    }
    let mut estimate = 0.0;
    for (i, (&xi, &vi)) in nodes.iter().zip(&values).enumerate() {
        let weight: f64 = nodes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &xj)| (offset - xj) / (xi - xj))
            .product();
        estimate += weight * vi;
    }
    Some(estimate)
}

/// ln|₂F₁| and its sign by the plain power series, for any real parameters (c not a non-positive
/// integer) and small |z|: the inner functions of the 1 − z transformation. `None` if it does not
/// settle.
fn signed_series(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
    const RESCALE: f64 = 1e280;
    let (mut term, mut sum, mut ln_scale, mut largest) = (1.0f64, 1.0f64, 0.0f64, 1.0f64);
    for n in 0..100_000 {
        let n = n as f64;
        if c + n == 0.0 {
            return None;
        }
        let ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        term *= ratio;
        sum += term;
        largest = largest.max(term.abs());
        if largest > RESCALE {
            sum /= RESCALE;
            term /= RESCALE;
            largest /= RESCALE;
            ln_scale += RESCALE.ln();
        }
        if term == 0.0
            || (ratio.abs() < 1.0 && term.abs() <= 1e-17 * sum.abs() * (1.0 - ratio.abs()))
        {
            // Terms far larger than the sum mean cancellation ate the digits.
            if sum == 0.0 || largest > 1e6 * sum.abs() {
                return None;
            }
            return Some((sum.abs().ln() + ln_scale, sum.signum()));
        }
    }
    None
}

/// ₂F₁(a, b; c; z) for a, b > 0, 0 ≤ z < 1 and c > −1, c ≠ 0.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, Hyp2f1Error> {
    if c > 0.0 {
        return ln_hyp2f1(a, b, c, z).map(f64::exp);
    }
    if !(a > 0.0 && b > 0.0 && c > -1.0 && c < 0.0 && (0.0..1.0).contains(&z)) {
        return Err(Hyp2f1Error::Domain { a, b, c, z });
    }
    // (c)_n = c (c+1)_(n−1) < 0 for n ≥ 1: the tail is −|Σ|, summed as positive magnitudes.
    let mut term = 1.0f64;
    let mut tail = 0.0f64;
    for n in 0..MAX_TERMS {
        let n = n as f64;
        let ratio = (a + n) * (b + n) / ((c + n).abs() * (n + 1.0)) * z;
        term *= ratio;
        tail += term;
        if n > 0.0 && ratio < 1.0 && term < 1e-17 * tail {
            return Ok(1.0 - tail);
        }
    }
    Err(Hyp2f1Error::NoConvergence {
        a,
        b,
        c,
        z,
        terms: MAX_TERMS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        // (a, b, c, z, exact)
        let cases: Vec<(f64, f64, f64, f64, f64)> = vec![
            // 2F1(1, 1; 2; z) = −ln(1 − z)/z
            (1.0, 1.0, 2.0, 0.5, -(0.5f64).ln() / 0.5),
            (1.0, 1.0, 2.0, 0.99, -(0.01f64).ln() / 0.99),
            // 2F1(a, b; b; z) = (1 − z)^−a
            (2.5, 3.0, 3.0, 0.3, 0.7f64.powf(-2.5)),
            // 2F1(1/2, 1; 3/2; z²) = atanh(z)/z
            (0.5, 1.0, 1.5, 0.81, 0.9f64.atanh() / 0.9),
            (0.7, 1.3, 2.1, 0.0, 1.0),
        ];
        for (a, b, c, z, exact) in cases {
            let got = hyp2f1(a, b, c, z).unwrap();
            assert!(
                (got - exact).abs() <= 1e-13 * exact.abs(),
                "2F1({a},{b};{c};{z}) = {got} vs {exact}"
            );
        }
    }

    #[test]
    fn negative_c_agrees_with_the_gauss_contiguous_relation() {
        // c(c−1)(z−1) F(c−1) + c[c−1−(2c−a−b−1)z] F(c) + (c−a)(c−b) z F(c+1) = 0,
        // with F(c) = 2F1(a, b; c; z): checks the signed branch (c − 1 < 0) against two positive ones.
        let (a, b, z) = (0.3, 0.45, 0.6);
        let c = 0.8;
        let (f_lo, f, f_hi) = (
            hyp2f1(a, b, c - 1.0, z).unwrap(),
            hyp2f1(a, b, c, z).unwrap(),
            hyp2f1(a, b, c + 1.0, z).unwrap(),
        );
        let residual = c * (c - 1.0) * (z - 1.0) * f_lo
            + c * (c - 1.0 - (2.0 * c - a - b - 1.0) * z) * f
            + (c - a) * (c - b) * z * f_hi;
        assert!(residual.abs() < 1e-12, "{residual}");
    }

    #[test]
    fn huge_parameters_stay_finite_in_log_space() {
        let ln = ln_hyp2f1(10_000.5, 10_002.4, 10_001.9, 0.6).unwrap();
        assert!(ln.is_finite() && ln > 700.0, "{ln}");
        assert!(matches!(
            hyp2f1(1.0, 1.0, -2.0, 0.5),
            Err(Hyp2f1Error::Domain { .. })
        ));
        assert!(matches!(
            hyp2f1(1.0, 1.0, 2.0, 1.0),
            Err(Hyp2f1Error::Domain { .. })
        ));
    }

    proptest::proptest! {
        /// Euler: F(a,b;c;z) = (1−z)^(c−a−b) F(c−a, c−b; c; z), through two different series
        /// (and the 1 − z transformation on both sides near 1).
        #[test]
        fn euler_transformation_holds(a in 0.1f64..40.0, b in 0.1f64..40.0, extra in 0.05f64..20.0, z in 0.0f64..0.9995) {
            let c = a.max(b) + extra;
            let left = ln_hyp2f1(a, b, c, z).unwrap();
            let right = (c - a - b) * (1.0 - z).ln() + ln_hyp2f1(c - a, c - b, c, z).unwrap();
            proptest::prop_assert!((left - right).abs() <= 1e-9 * left.abs().max(1.0), "{} vs {}", left, right);
        }

        /// Pfaff: F(a,b;c;z) = (1−z)^(−a) F(a, c−b; c; z/(z−1)), the right side at a negative
        /// argument summed by the signed series.
        #[test]
        fn pfaff_transformation_holds(a in 0.1f64..10.0, b in 0.1f64..10.0, c in 0.1f64..15.0, z in 0.0f64..0.3) {
            let left = ln_hyp2f1(a, b, c, z).unwrap();
            let (ln_f, sign) = signed_series(a, c - b, c, z / (z - 1.0)).unwrap();
            proptest::prop_assert_eq!(sign, 1.0);
            let right = -a * (1.0 - z).ln() + ln_f;
            proptest::prop_assert!((left - right).abs() <= 1e-10 * left.abs().max(1.0), "{} vs {}", left, right);
        }
    }
}
