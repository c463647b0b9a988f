//! One order line as clv sees it, and turning raw text fields into one (or into a [`Reject`]).

use crate::columns::{ColumnMapping, Role};
use crate::decimal::DecimalMark;
use crate::reject::{Reject, RejectReason};
use crate::rules::{normalise_customer, CustomerMap, ResolvedFilter};
use crate::time::DateParser;

/// An accepted order line. Borrowed from the reader's buffer: copy what you keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderLine<'a> {
    pub customer: &'a [u8],
    /// Shop-local seconds since 1970-01-01.
    pub time: i64,
    /// Net value of the line. Returns and cancellations are negative; a return worth nothing is
    /// `-0.0`, so [`OrderLine::is_return`] still knows it is one.
    pub value: f64,
    pub order: Option<&'a [u8]>,
    pub sku: Option<&'a [u8]>,
    /// The product's name or description, when the export has one.
    pub description: Option<&'a [u8]>,
    pub quantity: f64,
}

impl OrderLine<'_> {
    /// A return or cancellation: negative amount or quantity.
    pub fn is_return(&self) -> bool {
        self.value.is_sign_negative()
    }
}

/// Text that stands for "no value" in exports.
fn is_null(s: &[u8]) -> bool {
    // Every null word is at most 4 bytes; most ids are longer.
    s.is_empty()
        || s.len() <= 4
            && [&b"null"[..], b"na", b"n/a", b"nan", b"none", b"-", b"#n/a"]
                .iter()
                .any(|n| s.eq_ignore_ascii_case(n))
}

/// Trim spaces and surrounding quotes.
pub fn trim_field(s: &[u8]) -> &[u8] {
    let s = s.trim_ascii();
    match s {
        [b'"', inner @ .., b'"'] => inner.trim_ascii(),
        _ => s,
    }
}

/// Parse a money or count value: `12.50`, `-3`, `$1,234.50`, `€ 12.50`, `(12.50)` (negative),
/// and with [`DecimalMark::Comma`] `12,50` and `1.234,50`. Thousands separators must group
/// digits in threes (`1,234.50`; `29,33` is no number with a decimal point, `1.2345` none with a
/// decimal comma). Rejects NaN and infinities.
#[inline]
pub fn parse_number(raw: &[u8], mark: DecimalMark) -> Option<f64> {
    let s = trim_field(raw);
    match mark {
        DecimalMark::Point => plain_decimal(s).or_else(|| parse_formatted_number(s, mark)),
        // With a decimal comma a plain `1.234` is a thousand, not the fast path's fraction.
        DecimalMark::Comma => parse_formatted_number(s, mark),
    }
}

/// True when `text` is digits in groups of three after a first group of one to three, split by
/// `group` (or digits alone, without `group`).
fn grouped_digits(text: &str, group: char) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !text.contains(group) {
        return digits(text);
    }
    let mut groups = text.split(group);
    let first = groups.next().unwrap_or("");
    digits(first) && first.len() <= 3 && groups.all(|g| g.len() == 3 && digits(g))
}

/// [`parse_number`] beyond plain decimals (kept out of line: the plain path is on every row).
#[inline(never)]
fn parse_formatted_number(s: &[u8], mark: DecimalMark) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if mark == DecimalMark::Point {
        if let Ok(v) = text.parse::<f64>() {
            return v.is_finite().then_some(v);
        }
    }
    let (negative, text) = match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => (true, inner),
        None => (false, text),
    };
    let (group, decimal) = mark.separators();
    let mut body = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' | '-' | '+' => body.push(c),
            c if c == decimal || c == group => body.push(c),
            // Spaces and apostrophes group thousands too (`1 234,50`, `1'234.50`).
            c if c.is_whitespace() || c == '\'' => {}
            '$' | '€' | '£' | '¥' | '₹' | '₩' | '₽' | '¢' => {}
            _ => return None,
        }
    }
    let (sign, unsigned) = match body.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, body.strip_prefix('+').unwrap_or(&body)),
    };
    let (whole, fraction) = match unsigned.split_once(decimal) {
        Some((w, f)) => (w, f),
        None => (unsigned, ""),
    };
    let fraction_ok = fraction.bytes().all(|b| b.is_ascii_digit());
    let whole_ok = (whole.is_empty() && !fraction.is_empty()) || grouped_digits(whole, group);
    if !(fraction_ok && whole_ok) || unsigned.ends_with(decimal) {
        return None;
    }
    let plain = format!("{}.{}", whole.replace(group, ""), fraction);
    let v: f64 = plain.parse().ok()?;
    let v = sign * if negative { -v } else { v };
    v.is_finite().then_some(v)
}

/// Exact fast path for `-?digits[.digits]` with at most 15 significant digits: the digits form an
/// integer below 2^53 and 10^k is exact, so one IEEE division gives the correctly rounded value
/// (Clinger's fast path), the same as `str::parse`. Anything else returns `None`.
#[inline]
fn plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, body) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut scale: Option<usize> = None;
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + (c - b'0') as u64;
                digits += 1;
                if let Some(k) = &mut scale {
                    *k += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let v = mantissa as f64 / POW10[scale.unwrap_or(0)];
    Some(if negative { -v } else { v })
}

/// Builds [`OrderLine`]s from raw fields according to a column mapping.
#[derive(Debug, Clone)]
pub struct LineBuilder {
    file: String,
    customer: usize,
    date: usize,
    amount: Option<usize>,
    order: Option<usize>,
    sku: Option<usize>,
    quantity: Option<usize>,
    price: Option<usize>,
    description: Option<usize>,
    names: Vec<(usize, String)>,
    widest: usize,
    mark: DecimalMark,
    dates: DateParser,
    filters: Vec<ResolvedFilter>,
    customer_map: Option<std::sync::Arc<CustomerMap>>,
}

impl LineBuilder {
    pub fn new(file: &str, mapping: &ColumnMapping, dates: DateParser, mark: DecimalMark) -> Self {
        Self::with_rules(file, mapping, dates, mark, Vec::new(), None)
    }

    /// [`LineBuilder::new`] that also keeps only rows `filters` keep and maps customer ids
    /// through `customer_map` (ids missing from it are rejected).
    pub fn with_rules(
        file: &str,
        mapping: &ColumnMapping,
        dates: DateParser,
        mark: DecimalMark,
        filters: Vec<ResolvedFilter>,
        customer_map: Option<std::sync::Arc<CustomerMap>>,
    ) -> Self {
        let idx = |r: Role| mapping.get(r).map(|c| c.index);
        LineBuilder {
            file: file.to_string(),
            customer: idx(Role::Customer).expect("mapping has a customer column"),
            date: idx(Role::Date).expect("mapping has a date column"),
            amount: idx(Role::Amount),
            order: idx(Role::Order),
            sku: idx(Role::Sku),
            quantity: idx(Role::Quantity),
            price: idx(Role::Price),
            description: idx(Role::Description),
            names: mapping
                .columns
                .iter()
                .map(|(_, c)| (c.index, c.name.clone()))
                .collect(),
            widest: mapping
                .widest()
                .max(filters.iter().map(|f| f.index).max().unwrap_or(0)),
            mark,
            dates,
            filters,
            customer_map,
        }
    }

    /// Position of the date field in a row.
    pub fn date_column(&self) -> usize {
        self.date
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// Build one line from `field(i)` (the i-th raw field, 0-based) found on `line`: `None` when
    /// a filter leaves the row out. `scratch` holds a normalised customer id when needed.
    pub fn build<'a>(
        &'a self,
        field: impl Fn(usize) -> Option<&'a [u8]>,
        width: usize,
        line: u64,
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<OrderLine<'a>>, Reject> {
        self.build_with_time(field, width, line, None, scratch)
    }

    /// Like [`LineBuilder::build`], for sources whose date column is already typed (Parquet
    /// dates and timestamps): `time` replaces parsing the date field when it is `Some`.
    pub fn build_with_time<'a>(
        &'a self,
        field: impl Fn(usize) -> Option<&'a [u8]>,
        width: usize,
        line: u64,
        time: Option<i64>,
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<OrderLine<'a>>, Reject> {
        let reject = |index: usize, value: &[u8], reason| Reject {
            file: self.file.clone(),
            line,
            column: self.column_name(index),
            value: String::from_utf8_lossy(value).into_owned(),
            reason,
        };
        if width <= self.widest {
            let missing = self.widest.min(width);
            return Err(reject(missing, b"", RejectReason::ShortRow));
        }
        let get = |i: usize| field(i).unwrap_or(b"");
        if !self.filters.iter().all(|f| f.keeps(get(f.index))) {
            return Ok(None);
        }
        let raw_customer = trim_field(get(self.customer));
        if is_null(raw_customer) {
            return Err(reject(
                self.customer,
                raw_customer,
                RejectReason::MissingCustomer,
            ));
        }
        let mut customer = normalise_customer(raw_customer, scratch);
        if let Some(map) = &self.customer_map {
            customer = map.get(customer).map(|p| &**p).ok_or_else(|| {
                reject(self.customer, raw_customer, RejectReason::UnmappedCustomer)
            })?;
        }
        let raw_date = get(self.date);
        let time = time
            .or_else(|| self.dates.parse(raw_date))
            .ok_or_else(|| reject(self.date, raw_date, RejectReason::BadDate))?;
        let number = |index: usize, reason| {
            let raw = get(index);
            parse_number(raw, self.mark).ok_or_else(|| reject(index, raw, reason))
        };
        let quantity = match self.quantity {
            Some(i) if !is_null(trim_field(get(i))) => number(i, RejectReason::BadQuantity)?,
            _ => 1.0,
        };
        let mut value = match (self.amount, self.price) {
            (Some(i), _) => {
                let amount = number(i, RejectReason::BadAmount)?;
                // Some exports keep the amount positive and mark returns by a negative quantity.
                if quantity < 0.0 {
                    -amount.abs()
                } else {
                    amount
                }
            }
            (None, Some(i)) => quantity * number(i, RejectReason::BadPrice)?,
            // No value column: every line is a purchase worth nothing (a negative quantity still
            // marks a return, below).
            (None, None) => 0.0,
        };
        if value == 0.0 && quantity < 0.0 {
            value = -0.0;
        }
        let optional = |i: Option<usize>| i.map(|i| trim_field(get(i))).filter(|s| !is_null(s));
        Ok(Some(OrderLine {
            customer,
            time,
            value,
            order: optional(self.order),
            sku: optional(self.sku),
            description: optional(self.description),
            quantity,
        }))
    }

    fn column_name(&self, index: usize) -> String {
        self.names
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("column {}", index + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_equals_the_standard_parser() {
        for text in [
            "0",
            "0.1",
            "20.42",
            "-3.07",
            "123456789.12345",
            "999999999999999",
            "0.00000000000001",
            "-0",
        ] {
            let fast = plain_decimal(text.as_bytes()).unwrap();
            assert_eq!(
                fast.to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text}"
            );
        }
        for text in ["1.2.3", ".", "-", "1e5", "1234567890123456"] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn numbers() {
        let (p, c) = (DecimalMark::Point, DecimalMark::Comma);
        let cases: &[(&str, DecimalMark, Option<f64>)] = &[
            ("29.33", p, Some(29.33)),
            (" -3 ", p, Some(-3.0)),
            ("$1,234.50", p, Some(1234.5)),
            ("1,234,567", p, Some(1234567.0)),
            ("€ 12.50", p, Some(12.5)),
            ("(12.50)", p, Some(-12.5)),
            ("\"7\"", p, Some(7.0)),
            ("1e3", p, Some(1000.0)),
            ("-$1,234.50", p, Some(-1234.5)),
            ("12,50", c, Some(12.5)),
            ("1.234,50", c, Some(1234.5)),
            ("1.234", c, Some(1234.0)),
            ("1 234,50", c, Some(1234.5)),
            ("-0,99", c, Some(-0.99)),
            ("12", c, Some(12.0)),
            // A mark that does not fit the value is no number, never a misread one.
            ("29,33", p, None),
            ("1.234,50", p, None),
            ("12,5", p, None),
            ("1.2345", c, None),
            ("12.50", c, None),
            ("1,234.50", c, None),
            ("NaN", p, None),
            ("inf", p, None),
            ("12.5.3", p, None),
            ("abc", p, None),
            ("", p, None),
        ];
        for (text, mark, want) in cases {
            assert_eq!(
                parse_number(text.as_bytes(), *mark),
                *want,
                "{text} with a {mark:?}"
            );
        }
    }
}
