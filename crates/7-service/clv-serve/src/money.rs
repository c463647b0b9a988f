//! Money from JSON into integer minor units, exactly: the amount's decimal text is read digit by
//! digit (never through a float product), and an amount with more decimals than the currency has
//! is refused rather than rounded.

use serde_json::Value;

/// `value` (a JSON number or a decimal string) in minor units of a currency with `digits`
/// decimals. Negative amounts are refused: a refund is its own event.
pub fn to_minor(value: &Value, digits: u32) -> Result<i64, String> {
    let text = match value {
        // Numbers keep the text they were written with up to f64 round-trip, which is exact for
        // any amount a shop has (at most 15 significant digits).
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(format!("an amount is a number like 29.95, not {other}")),
    };
    parse_minor(&text, digits)
}

/// `text` like `1234.5` in minor units with `digits` decimals.
pub fn parse_minor(text: &str, digits: u32) -> Result<i64, String> {
    let unsupported = || {
        format!(
            "`{text}` is not an amount: write digits with an optional decimal point, like 1234.50"
        )
    };
    if text.starts_with('-') {
        return Err(format!(
            "`{text}` is negative: send refunds as Order Refunded events"
        ));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(unsupported());
    }
    let significant = fraction.trim_end_matches('0');
    if significant.len() > digits as usize {
        return Err(format!(
            "`{text}` has more decimals than the currency's {digits}: send the amount as the shop charged it"
        ));
    }
    let too_big = || format!("`{text}` is too large an amount");
    let mut minor: i64 = whole.parse().map_err(|_| too_big())?;
    for i in 0..digits as usize {
        let d = significant
            .as_bytes()
            .get(i)
            .map_or(0, |b| (b - b'0') as i64);
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(d))
            .ok_or_else(too_big)?;
    }
    Ok(minor)
}

/// Minor units back to the amount the models see.
pub fn to_major(minor: i64, digits: u32) -> f64 {
    // One correctly rounded division: 2933 / 100 is the same double as parsing "29.33".
    minor as f64 / 10f64.powi(digits as i32)
}

/// Minor units as the decimal text a message shows: 2933 with 2 digits is "29.33".
pub fn to_text(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, part) = (
        minor.unsigned_abs() / scale as u64,
        minor.unsigned_abs() % scale as u64,
    );
    format!("{sign}{whole}.{part:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with `digits` decimals gives `expect` (minor units) or an error containing it.
    fn check(text: &str, digits: u32, expect: Result<i64, &str>) {
        match (parse_minor(text, digits), expect) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn minor_units_as_text() {
        for (minor, digits, text) in [
            (2933, 2, "29.33"),
            (5, 2, "0.05"),
            (-120, 2, "-1.20"),
            (7, 0, "7"),
            (1005, 3, "1.005"),
        ] {
            assert_eq!(to_text(minor, digits), text);
            // Amounts read are never negative; the text of those that are reads back.
            if minor >= 0 {
                assert_eq!(parse_minor(text, digits), Ok(minor));
            }
        }
    }

    #[test]
    fn amounts_in_minor_units() {
        check("29.33", 2, Ok(2933));
        check("29.3", 2, Ok(2930));
        check("29", 2, Ok(2900));
        check("0.10", 2, Ok(10));
        check("1234.500", 2, Ok(123_450));
        check("1500", 0, Ok(1500));
        check("1.234", 3, Ok(1234));
        check("29.333", 2, Err("more decimals"));
        check("1.5", 0, Err("more decimals"));
        check("-5", 2, Err("negative"));
        check("1e3", 2, Err("not an amount"));
        check("1,234.50", 2, Err("not an amount"));
        check("", 2, Err("not an amount"));
        check(".5", 2, Err("not an amount"));
        check("99999999999999999999", 2, Err("too large"));
    }

    #[test]
    fn json_numbers_read_as_written() {
        for (json, want) in [
            ("29.33", 2933),
            ("0.07", 7),
            ("1234567.89", 123_456_789),
            ("\"12.5\"", 1250),
        ] {
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(to_minor(&v, 2), Ok(want), "{json}");
            // And back to the same double as the text parses to.
            let text = json.trim_matches('"');
            assert_eq!(to_major(want, 2), text.parse::<f64>().unwrap(), "{json}");
        }
        assert!(to_minor(&Value::Bool(true), 2).is_err());
    }
}
