//! Conditions on a customer's predictions, as a list filter or a saved segment states them:
//! `p_alive < 0.3 and predicted_clv > 200`. Columns are named from a fixed list and values are
//! numbers, so a condition becomes SQL with bound values and nothing of the text in it.

/// The prediction columns a condition can test (their names in the `predictions` table).
const COLUMNS: [&str; 3] = ["p_alive", "expected_purchases", "predicted_clv"];
const OPERATORS: [&str; 6] = ["<=", ">=", "!=", "<", ">", "="];

/// One test: `column op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: &'static str,
    pub operator: &'static str,
    pub value: f64,
}

/// Parse `text` (conditions joined by `and`); the error says what is wrong and what is allowed.
pub fn parse(text: &str) -> Result<Vec<Condition>, String> {
    let lowered = text.to_ascii_lowercase();
    let words: Vec<&str> = lowered.split_whitespace().collect();
    let parts: Vec<String> = words.split(|w| *w == "and").map(|p| p.join(" ")).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("write conditions like `p_alive < 0.3 and predicted_clv > 200`".into());
    }
    parts.iter().map(|p| condition(p)).collect()
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
    let name = text[..at].trim();
    let column = COLUMNS
        .iter()
        .find(|c| **c == name)
        .ok_or_else(|| format!("`{name}` is not a prediction: use {}", COLUMNS.join(", ")))?;
    let number = text[at + operator.len()..].trim();
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{number}` is not a number (in `{text}`)"))?;
    Ok(Condition {
        column,
        operator,
        value,
    })
}

impl Condition {
    /// The condition on table alias `p` with its value as parameter `$n`.
    pub fn sql(&self, n: usize) -> String {
        format!("p.{} {} ${n}", self.column, self.operator)
    }

    /// Whether `value` passes.
    pub fn holds(&self, value: f64) -> bool {
        match self.operator {
            "<" => value < self.value,
            "<=" => value <= self.value,
            ">" => value > self.value,
            ">=" => value >= self.value,
            "=" => value == self.value,
            _ => value != self.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` parses to `expect` (column, operator, value each), or fails with a message
    /// containing the one given.
    fn check(text: &str, expect: Result<&[(&str, &str, f64)], &str>) {
        match (parse(text), expect) {
            (Ok(got), Ok(want)) => {
                let got: Vec<_> = got
                    .iter()
                    .map(|c| (c.column, c.operator, c.value))
                    .collect();
                assert_eq!(got, want, "{text}");
            }
            (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn conditions() {
        check("p_alive < 0.3", Ok(&[("p_alive", "<", 0.3)]));
        check(
            "p_alive<0.3 AND predicted_clv >= 200",
            Ok(&[("p_alive", "<", 0.3), ("predicted_clv", ">=", 200.0)]),
        );
        check(
            "expected_purchases != 0",
            Ok(&[("expected_purchases", "!=", 0.0)]),
        );
        check(
            "predicted_clv <= 1e3",
            Ok(&[("predicted_clv", "<=", 1000.0)]),
        );
        check("p_alive < 0.3 and", Err("write conditions like"));
        check("email = 1", Err("is not a prediction"));
        check("p_alive ~ 1", Err("no comparison"));
        check("p_alive < x", Err("not a number"));
        check("p_alive < nan", Err("not a number"));
        check("p_alive < 1; DROP TABLE orders", Err("not a number"));
        let c = &parse("p_alive >= 0.5").unwrap()[0];
        assert!(c.holds(0.5) && !c.holds(0.49));
        assert_eq!(c.sql(5), "p.p_alive >= $5");
    }
}
