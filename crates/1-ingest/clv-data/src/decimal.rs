//! The decimal mark of a file's amounts: `12.50` or `12,50`. Read wrongly, every amount is off by
//! a factor of 100 (`29,33` as 2933) without a single rejected row, so the mark is detected from
//! the values the way the delimiter is, said in the read report, and a column that mixes both
//! marks, or only holds values that read either way (`1,234`), is refused instead of guessed.

use crate::DataError;

/// Which character separates the whole part from the fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalMark {
    /// `1,234.50`: a point before the fraction, commas between thousands.
    Point,
    /// `1.234,50`: a comma before the fraction, points between thousands.
    Comma,
}

impl DecimalMark {
    /// (thousands separator, decimal mark).
    pub fn separators(self) -> (char, char) {
        match self {
            DecimalMark::Point => (',', '.'),
            DecimalMark::Comma => ('.', ','),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DecimalMark::Point => "decimal point",
            DecimalMark::Comma => "decimal comma",
        }
    }
}

/// The mark a file's amounts use, and how it was settled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecimalChoice {
    pub mark: DecimalMark,
    /// True when read from the values, false when given.
    pub detected: bool,
    /// A value that decided it, when detected from one.
    pub example: Option<String>,
}

/// What one value says about the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// Reads as a number with this mark only.
    Only(DecimalMark),
    /// Reads with both marks, as different numbers (`1,234`: 1234 or 1.234).
    Either,
    /// Says nothing (`12`, or not a number at all).
    Nothing,
}

fn evidence(text: &[u8]) -> Evidence {
    let point = crate::line::parse_number(text, DecimalMark::Point);
    let comma = crate::line::parse_number(text, DecimalMark::Comma);
    match (point, comma) {
        (Some(p), Some(c)) if p != c => Evidence::Either,
        (Some(_), None) => Evidence::Only(DecimalMark::Point),
        (None, Some(_)) => Evidence::Only(DecimalMark::Comma),
        _ => Evidence::Nothing,
    }
}

/// Settle the decimal mark from sampled amount values (`(line, text)`), or refuse: values that
/// only read with a comma and others that only read with a point, or only values that read
/// either way. No separator anywhere means the point.
pub fn detect<'a>(
    column: &str,
    values: impl IntoIterator<Item = (u64, &'a [u8])>,
) -> Result<DecimalChoice, DataError> {
    let (mut comma, mut point, mut either) = (None, None, None);
    for (line, text) in values {
        let slot = match evidence(text) {
            Evidence::Only(DecimalMark::Comma) => &mut comma,
            Evidence::Only(DecimalMark::Point) => &mut point,
            Evidence::Either => &mut either,
            Evidence::Nothing => continue,
        };
        slot.get_or_insert_with(|| (line, String::from_utf8_lossy(text).trim().to_string()));
    }
    let pass = "pass --decimal-comma or --decimal-point to say which";
    match (comma, point, either) {
        (Some((cl, c)), Some((pl, p)), _) => Err(DataError::Decimal(format!(
            "column `{column}` mixes decimal commas (`{c}` on line {cl}) and decimal points (`{p}` on line {pl}); fix the export, or {pass}"
        ))),
        (Some((_, c)), None, _) => Ok(DecimalChoice {
            mark: DecimalMark::Comma,
            detected: true,
            example: Some(c),
        }),
        (None, Some((_, p)), _) => Ok(DecimalChoice {
            mark: DecimalMark::Point,
            detected: true,
            example: Some(p),
        }),
        (None, None, Some((line, e))) => Err(DataError::Decimal(format!(
            "column `{column}` cannot tell its decimal mark: `{e}` (line {line}) reads as a thousand or as a fraction, and no value says which; {pass}"
        ))),
        (None, None, None) => Ok(DecimalChoice {
            mark: DecimalMark::Point,
            detected: true,
            example: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mark detected from `values`, or the error's telling words.
    fn check(values: &[&str], want: Result<DecimalMark, &str>) {
        let got = detect(
            "amount",
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u64 + 2, v.as_bytes())),
        );
        match (got, want) {
            (Ok(c), Ok(m)) => assert_eq!(c.mark, m, "{values:?}"),
            (Err(e), Err(words)) => assert!(e.to_string().contains(words), "{values:?}: {e}"),
            (got, want) => panic!("{values:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn the_mark_comes_from_values_that_read_one_way_only() {
        check(&["29,33", "1.234,50", "12"], Ok(DecimalMark::Comma));
        check(&["12,5"], Ok(DecimalMark::Comma));
        check(&["29.33", "1,234.50"], Ok(DecimalMark::Point));
        check(&["1,234", "29.33"], Ok(DecimalMark::Point));
        check(&["1.234", "29,33"], Ok(DecimalMark::Comma));
        check(&["12", "7", "-3"], Ok(DecimalMark::Point));
        check(
            &["29,33", "12.50"],
            Err("mixes decimal commas (`29,33` on line 2)"),
        );
        check(
            &["1,234", "5,678"],
            Err("cannot tell its decimal mark: `1,234` (line 2)"),
        );
    }
}
