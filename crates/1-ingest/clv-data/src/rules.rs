//! Rules a user adds to a read: row filters (`status != cancelled`, test orders out) and a
//! customer map joining per-order customer ids to the person they stand for (marketplaces give
//! every order its own customer id). Customer ids are normalised here too: emails compare
//! case-insensitively.

use crate::line::trim_field;
use crate::DataError;
use std::io::Read;
use std::str::FromStr;

/// Customer ids to the person they stand for (a marketplace's per-order customer id to its
/// person id), keys and values normalised like ids in order lines.
pub type CustomerMap = rustc_hash::FxHashMap<Box<[u8]>, Box<[u8]>>;

/// How a filter compares a row's field (trimmed, ASCII case ignored) with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// Keep rows whose field equals the value.
    Equals,
    /// Keep rows whose field differs from the value.
    NotEquals,
    /// Keep rows whose field is not a true word (`true`, `1`, `yes`, `y`, `t`): test orders out.
    NotTrue,
}

/// A row filter as the user gives it: keep rows whose `column` compares so with `value`.
/// `column` may list alternatives separated by `|` (the first the file has is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFilter {
    pub column: String,
    pub op: FilterOp,
    pub value: String,
}

/// A filter with its column found.
#[derive(Debug, Clone)]
pub struct ResolvedFilter {
    pub index: usize,
    pub op: FilterOp,
    pub value: Vec<u8>,
}

impl ResolvedFilter {
    pub(crate) fn keeps(&self, field: &[u8]) -> bool {
        let field = trim_field(field);
        match self.op {
            FilterOp::Equals => field.eq_ignore_ascii_case(&self.value),
            FilterOp::NotEquals => !field.eq_ignore_ascii_case(&self.value),
            FilterOp::NotTrue => ![&b"true"[..], b"1", b"yes", b"y", b"t"]
                .iter()
                .any(|w| field.eq_ignore_ascii_case(w)),
        }
    }
}

/// Normalise a customer id: an email (it has an `@`) compares case-insensitively, so it is
/// lower-cased (ids are already trimmed); other ids are kept as they are. Uses `scratch` only
/// when there is something to lower.
pub fn normalise_customer<'a>(id: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if memchr::memchr(b'@', id).is_none() || !id.iter().any(u8::is_ascii_uppercase) {
        return id;
    }
    scratch.clear();
    scratch.extend(id.iter().map(u8::to_ascii_lowercase));
    scratch
}

impl FromStr for RowFilter {
    type Err = DataError;
    /// `column != value`, `column = value` or `column == value` (spaces optional; the value may
    /// be quoted).
    fn from_str(s: &str) -> Result<Self, DataError> {
        let (column, op, value) = if let Some((c, v)) = s.split_once("!=") {
            (c, FilterOp::NotEquals, v)
        } else if let Some((c, v)) = s.split_once("==").or_else(|| s.split_once('=')) {
            (c, FilterOp::Equals, v)
        } else {
            return Err(DataError::Invalid(format!(
                "the filter `{s}` has no comparison: write `column != value` or `column = value`"
            )));
        };
        let column = column.trim();
        if column.is_empty() {
            return Err(DataError::Invalid(format!(
                "the filter `{s}` names no column"
            )));
        }
        let value = value.trim();
        let value = ["'", "\""]
            .iter()
            .find_map(|q| value.strip_prefix(q).and_then(|v| v.strip_suffix(q)))
            .unwrap_or(value);
        Ok(RowFilter {
            column: column.to_string(),
            op,
            value: value.to_string(),
        })
    }
}

impl RowFilter {
    /// Leave out test orders: rows whose `test`, `is_test` or `test_order` column is true.
    pub fn test_orders() -> Self {
        RowFilter {
            column: "test|is_test|test_order|is_test_order".into(),
            op: FilterOp::NotTrue,
            value: String::new(),
        }
    }
}

/// [`read_customer_map`] from a file.
pub fn read_customer_map_file(path: &std::path::Path) -> Result<CustomerMap, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    read_customer_map(&path.display().to_string(), file)
}

/// Read a customer map: a CSV with a header whose first column holds the ids the orders carry
/// and whose second holds the person (further columns are ignored, so a marketplace's customer
/// table can be given as it is when those come first). An id mapped to two people is an error.
pub fn read_customer_map(name: &str, input: impl Read) -> Result<CustomerMap, DataError> {
    let (text, _) = crate::text::decode(name, input, None, 64 * 1024)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let mut map = CustomerMap::default();
    let (mut id_scratch, mut person_scratch) = (Vec::new(), Vec::new());
    for (row, record) in reader.byte_records().enumerate() {
        let line = row as u64 + 2;
        let record = record.map_err(|e| DataError::csv(std::path::Path::new(name), e))?;
        let (Some(id), Some(person)) = (record.get(0), record.get(1)) else {
            return Err(DataError::Invalid(format!(
                "{name}, line {line}: a customer map needs two columns (the id in the orders, then the person)"
            )));
        };
        let id = normalise_customer(trim_field(id), &mut id_scratch);
        let person = normalise_customer(trim_field(person), &mut person_scratch);
        if id.is_empty() || person.is_empty() {
            return Err(DataError::Invalid(format!(
                "{name}, line {line}: an empty id or person; every row maps one id to one person"
            )));
        }
        match map.get(id) {
            Some(before) if **before != *person => {
                return Err(DataError::Invalid(format!(
                    "{name}, line {line}: the id `{}` is mapped to two people (`{}` and `{}`)",
                    String::from_utf8_lossy(id),
                    String::from_utf8_lossy(before),
                    String::from_utf8_lossy(person)
                )))
            }
            Some(_) => {}
            None => {
                map.insert(id.into(), person.into());
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` parses to the filter `(column, op, value)`, or fails when `want` is `None`.
    fn check(text: &str, want: Option<(&str, FilterOp, &str)>) {
        let got = text.parse::<RowFilter>().ok();
        let got = got
            .as_ref()
            .map(|f| (f.column.as_str(), f.op, f.value.as_str()));
        assert_eq!(got, want, "{text}");
    }

    #[test]
    fn filters_read_as_users_write_them() {
        check(
            "status != cancelled",
            Some(("status", FilterOp::NotEquals, "cancelled")),
        );
        check(
            "status!='cancelled'",
            Some(("status", FilterOp::NotEquals, "cancelled")),
        );
        check(
            "country = \"United Kingdom\"",
            Some(("country", FilterOp::Equals, "United Kingdom")),
        );
        check("channel==web", Some(("channel", FilterOp::Equals, "web")));
        check("status cancelled", None);
        check(" = web", None);
    }

    #[test]
    fn a_customer_map_joins_ids_to_people_and_refuses_conflicts() {
        let map = read_customer_map(
            "m",
            &b"order_customer,person\nA1,Anna@Example.com\nA2,anna@example.com\n"[..],
        )
        .unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(&*map[&b"A1"[..]], b"anna@example.com");
        let err = read_customer_map("m", &b"id,person\nA1,p1\nA1,p2\n"[..]).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(read_customer_map("m", &b"id\nA1\n"[..]).is_err());
    }
}
