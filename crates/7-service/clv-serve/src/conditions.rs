//! Conditions on a customer's predictions, as a list filter or a saved segment states them:
//! `p_alive < 0.3 and predicted_clv > 200`, `segment = "At risk"`, `tier != "rest"`. Columns are
//! named from a fixed list and values are bound parameters, so a condition becomes SQL with
//! nothing of the text in it.

/// The prediction columns a condition can compare with a number (names in `predictions`).
const NUMBER_COLUMNS: [&str; 3] = ["p_alive", "expected_purchases", "predicted_clv"];
/// The columns a condition can compare with a quoted name (`=` and `!=` only).
const TEXT_COLUMNS: [&str; 2] = ["segment", "tier"];
const OPERATORS: [&str; 6] = ["<=", ">=", "!=", "<", ">", "="];

/// What a column is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// One test: `column op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: &'static str,
    pub operator: &'static str,
    pub value: Value,
}

/// Parse `text` (conditions joined by `and`); the error says what is wrong and what is allowed.
pub fn parse(text: &str) -> Result<Vec<Condition>, String> {
    let parts = split_on_and(text)?;
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err("write conditions like `p_alive < 0.3 and predicted_clv > 200`".into());
    }
    parts.iter().map(|p| condition(p.trim())).collect()
}

/// `text` cut at each `and` word outside quotes.
fn split_on_and(text: &str) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut word = String::new();
    let flush = |word: &mut String, parts: &mut Vec<String>| {
        if word.eq_ignore_ascii_case("and") {
            parts.push(String::new());
        } else {
            let part = parts.last_mut().expect("one part");
            part.push(' ');
            part.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                word.push(c);
            }
            None if c.is_whitespace() => flush(&mut word, &mut parts),
            None => word.push(c),
        }
    }
    if quote.is_some() {
        return Err("a quoted name is not closed".into());
    }
    flush(&mut word, &mut parts);
    Ok(parts)
}

fn condition(text: &str) -> Result<Condition, String> {
    let (at, operator) = OPERATORS
        .iter()
        .filter_map(|op| text.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())))
        .ok_or_else(|| {
            format!(
                "`{text}` has no comparison: use one of {}",
                OPERATORS.join(" ")
            )
        })?;
    let name = text[..at].trim().to_ascii_lowercase();
    let given = text[at + operator.len()..].trim();
    if let Some(column) = TEXT_COLUMNS.iter().find(|c| **c == name) {
        if !matches!(operator, "=" | "!=") {
            return Err(format!("`{name}` is a name: compare it with = or !="));
        }
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| given.strip_prefix(*q)?.strip_suffix(*q))
            .ok_or_else(|| format!("quote the {name}: {name} = \"{given}\""))?;
        return Ok(Condition {
            column,
            operator,
            value: Value::Text(unquoted.to_string()),
        });
    }
    let column = NUMBER_COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
        format!(
            "`{name}` is not a prediction: use {}, {}",
            NUMBER_COLUMNS.join(", "),
            TEXT_COLUMNS.join(", ")
        )
    })?;
    let value: f64 = given
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{given}` is not a number (in `{text}`)"))?;
    Ok(Condition {
        column,
        operator,
        value: Value::Number(value),
    })
}

impl Condition {
    /// The condition on table alias `p` with its value as parameter `$n`.
    pub fn sql(&self, n: usize) -> String {
        format!("p.{} {} ${n}", self.column, self.operator)
    }

    /// Bind this condition's value as the next parameter of `query`.
    pub fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        match &self.value {
            Value::Number(v) => query.bind(*v),
            Value::Text(t) => query.bind(t.as_str()),
        }
    }
}

/// `conditions` as SQL on alias `p`, their values numbered from `$first`.
pub fn sql(conditions: &[Condition], first: usize) -> String {
    conditions
        .iter()
        .enumerate()
        .map(|(i, c)| format!(" AND {}", c.sql(first + i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` parses to `expect` (column, operator, value each), or fails with a message
    /// containing the one given.
    fn check(text: &str, expect: Result<&[(&str, &str, Value)], &str>) {
        match (parse(text), expect) {
            (Ok(got), Ok(want)) => {
                let got: Vec<_> = got
                    .into_iter()
                    .map(|c| (c.column, c.operator, c.value))
                    .collect();
                let want: Vec<_> = want.iter().map(|(c, o, v)| (*c, *o, v.clone())).collect();
                assert_eq!(got, want, "{text}");
            }
            (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    fn n(x: f64) -> Value {
        Value::Number(x)
    }

    fn t(x: &str) -> Value {
        Value::Text(x.into())
    }

    #[test]
    fn conditions() {
        check("p_alive < 0.3", Ok(&[("p_alive", "<", n(0.3))]));
        check(
            "p_alive<0.3 AND predicted_clv >= 200",
            Ok(&[("p_alive", "<", n(0.3)), ("predicted_clv", ">=", n(200.0))]),
        );
        check(
            "expected_purchases != 0",
            Ok(&[("expected_purchases", "!=", n(0.0))]),
        );
        check(
            "predicted_clv <= 1e3",
            Ok(&[("predicted_clv", "<=", n(1000.0))]),
        );
        check(
            "segment = \"At risk\"",
            Ok(&[("segment", "=", t("At risk"))]),
        );
        // `and` inside quotes and an apostrophe inside double quotes are part of the name.
        check(
            "segment = \"Can't lose them\" and tier != 'sand and stone'",
            Ok(&[
                ("segment", "=", t("Can't lose them")),
                ("tier", "!=", t("sand and stone")),
            ]),
        );
        check(
            "tier = 'top 1%' and p_alive > 0.5",
            Ok(&[("tier", "=", t("top 1%")), ("p_alive", ">", n(0.5))]),
        );
        check("segment < 'x'", Err("compare it with = or !="));
        check("segment = At risk", Err("quote the segment"));
        check("segment = 'At risk", Err("not closed"));
        check("p_alive < 0.3 and", Err("write conditions like"));
        check("email = 1", Err("is not a prediction"));
        check("p_alive ~ 1", Err("no comparison"));
        check("p_alive < x", Err("not a number"));
        check("p_alive < nan", Err("not a number"));
        check("p_alive < 1; DROP TABLE orders", Err("not a number"));
        let c = parse("p_alive >= 0.5 and segment = 'Lost'").unwrap();
        assert_eq!(sql(&c, 5), " AND p.p_alive >= $5 AND p.segment = $6");
    }
}
