//! The precision clv writes numbers with: amounts of money summed from the file to cents (unless
//! the file has finer amounts), values computed from them (means, probabilities, predictions) to
//! 12 significant digits. Both remove
//! the binary noise of sums and products (`100.50000000000001`, `244091.9399999989`) and keep far
//! more digits than any estimate here is determined to.

/// Significant digits of computed values in CSV and JSON output.
pub const SIGNIFICANT_DIGITS: i32 = 12;

/// `x` rounded to whole cents (hundredths of the currency unit).
pub fn cents(x: f64) -> f64 {
    if x.is_finite() && x.abs() < 1e15 {
        (x * 100.0).round() / 100.0
    } else {
        x
    }
}

/// An amount of money as written: whole cents when it is whole cents up to the noise of adding
/// binary floats (a relative 1e-9, far above a million-row sum's error and far below any real
/// fraction of a cent), else (a currency with three decimals, a price per gram) 12 significant
/// digits, so nothing the file says is rounded away.
pub fn money(x: f64) -> f64 {
    let c = cents(x);
    if (c - x).abs() <= 1e-9 * x.abs().max(1.0) {
        c
    } else {
        significant(x)
    }
}

/// [`money`] on each amount, in place.
pub fn round_money(values: &mut [f64]) {
    values.iter_mut().for_each(|x| *x = money(*x));
}

/// Exact powers of ten: 10^k for k in 0..=22 is exactly representable, so scaling by one and
/// rounding gives the double nearest to the rounded decimal, whose shortest text is that decimal.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `x` rounded to [`SIGNIFICANT_DIGITS`] significant digits (its shortest text then has at most
/// that many).
pub fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // The decimal exponent from the binary one (floor(e2 · log10 2) via 1233/4096), corrected
    // by one comparison: cheaper than log10 on a hot output path.
    let a = x.abs();
    let e2 = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut e10 = (e2 * 1233) >> 12;
    if (-23..22).contains(&e10) && a >= power_of_ten(e10 + 1) {
        e10 += 1;
    }
    let scale = SIGNIFICANT_DIGITS - 1 - e10;
    match scale {
        0..=22 => {
            let p = POWERS_OF_TEN[scale as usize];
            (x * p).round() / p
        }
        -22..=-1 => {
            let p = POWERS_OF_TEN[(-scale) as usize];
            (x / p).round() * p
        }
        // Rare magnitudes (below 1e-11 or above 1e33): through decimal text, exact but slower.
        _ => format!("{x:.*e}", (SIGNIFICANT_DIGITS - 1) as usize)
            .parse()
            .unwrap_or(x),
    }
}

fn power_of_ten(k: i32) -> f64 {
    if k >= 0 {
        POWERS_OF_TEN[k as usize]
    } else {
        1.0 / POWERS_OF_TEN[(-k) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x` rounded by `significant` prints as `want` (shortest round-trip text).
    fn check(x: f64, want: &str) {
        assert_eq!(significant(x).to_string(), want, "{x}");
        // An independent rounding: through decimal text.
        let by_text: f64 = format!("{:.*e}", (SIGNIFICANT_DIGITS - 1) as usize, x)
            .parse()
            .unwrap();
        assert_eq!(significant(x), by_text, "{x}");
    }

    #[test]
    fn computed_values_keep_twelve_significant_digits() {
        check(100.50000000000001, "100.5");
        check(244091.9399999989, "244091.94");
        check(0.6302758473868869, "0.630275847387");
        check(-0.30000000000000004, "-0.3");
        check(30.33326109360803, "30.3332610936");
        check(1.0, "1");
        check(999999999999.7, "1000000000000");
        check(123456789012345.6, "123456789012000");
        check(1.2345678901234567e-7, "0.000000123456789012");
        check(9.999999999999e-3, "0.01");
        check(9.99999999999e-3, "0.00999999999999");
        check(1.8784443547104524e-14, "0.0000000000000187844435471");
        for k in -300..300 {
            let x = 7.123456789012345 * 10f64.powi(k);
            let by_text: f64 = format!("{x:.11e}").parse().unwrap();
            assert_eq!(significant(x), by_text, "{x}");
        }
    }

    #[test]
    fn money_is_cents_unless_the_file_has_finer_amounts() {
        assert_eq!(money(100.50000000000001).to_string(), "100.5");
        assert_eq!(money(244091.9399999989).to_string(), "244091.94");
        assert_eq!(money(1.234).to_string(), "1.234");
        assert_eq!(money(1.234 + 2.345).to_string(), "3.579");
        assert_eq!(money(-0.1 - 0.2).to_string(), "-0.3");
    }

    #[test]
    fn money_is_rounded_to_cents() {
        assert_eq!(cents(100.50000000000001).to_string(), "100.5");
        assert_eq!(cents(244091.9399999989).to_string(), "244091.94");
        assert_eq!(cents(-12.346).to_string(), "-12.35");
        assert_eq!(cents(931.548).to_string(), "931.55");
    }
}
