//! Message templates and step conditions, in minijinja (the Jinja2 dialect shop owners know from
//! Shopify's Liquid and Klaviyo). Both are compiled when a definition is read, and every variable
//! they use must be one a send provides: a misspelt `{{ custmer.name }}` is refused at save time
//! instead of rendering blank to thousands of customers. Rendering is strict: a value a customer
//! lacks (no first name on file) is an error for that message, recorded, not a blank.

use serde::{Deserialize, Serialize};

/// The variables a message or a condition may use. `customer.traits.*` is anything the shop
/// sent in identify calls.
pub const VARIABLES: &[&str] = &[
    "customer.id",
    "customer.email",
    "customer.phone",
    "customer.name",
    "customer.first_name",
    "customer.timezone",
    "customer.orders",
    "customer.revenue",
    "customer.traits",
    "order.id",
    "order.total",
    "order.currency",
    "order.placed_at",
    "order.date",
    "order.items",
    "prediction.p_alive",
    "prediction.expected_purchases",
    "prediction.clv",
    "prediction.next_order_date",
    "loyalty.points",
    "loyalty.tier",
    "shop.name",
    "shop.currency",
    "links.unsubscribe",
    "recommendations",
];

/// The variables of a send that only a journey started by an order has.
pub fn needs_order(variable: &str) -> bool {
    variable == "order" || variable.starts_with("order.")
}

/// Whether `name` (a dotted path from minijinja's undeclared variables) is one a send provides.
fn known(name: &str) -> bool {
    VARIABLES.iter().any(|v| {
        name == *v
            // `customer` alone (a whole object), or deeper than a listed path (`customer.traits.size`).
            || v.starts_with(name) && v.as_bytes().get(name.len()) == Some(&b'.')
            || name.starts_with(v) && name.as_bytes().get(v.len()) == Some(&b'.') && *v == "customer.traits"
    })
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

/// The variables `names` has that no send provides, as a message (None: all known).
fn unknown(names: std::collections::HashSet<String>) -> Option<String> {
    let mut bad: Vec<String> = names.into_iter().filter(|n| !known(n)).collect();
    if bad.is_empty() {
        return None;
    }
    bad.sort();
    Some(format!(
        "unknown variable{} {}: a message can use {}",
        if bad.len() > 1 { "s" } else { "" },
        bad.join(", "),
        VARIABLES.join(", ")
    ))
}

/// Template text, checked when read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Text {
    pub source: String,
    #[serde(skip)]
    pub variables: Vec<String>,
}

impl Text {
    pub fn new(source: &str) -> Result<Text, String> {
        let env = environment();
        let template = env
            .template_from_str(source)
            .map_err(|e| format!("template: {e}"))?;
        let names = template.undeclared_variables(true);
        if let Some(problem) = unknown(names.clone()) {
            return Err(problem);
        }
        let mut variables: Vec<String> = names.into_iter().collect();
        variables.sort();
        Ok(Text {
            source: source.to_string(),
            variables,
        })
    }

    /// The text for `context` (the send's variables as JSON).
    pub fn render(&self, context: &serde_json::Value) -> Result<String, String> {
        let env = environment();
        let template = env
            .template_from_str(&self.source)
            .map_err(|e| e.to_string())?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        Text::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A step's condition: a minijinja expression over the same variables, such as
/// `prediction.clv > 200 and customer.orders >= 2`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Condition {
    pub source: String,
    #[serde(skip)]
    pub variables: Vec<String>,
}

impl Condition {
    pub fn new(source: &str) -> Result<Condition, String> {
        let env = environment();
        let expression = env
            .compile_expression(source)
            .map_err(|e| format!("condition: {e}"))?;
        let names = expression.undeclared_variables(true);
        if let Some(problem) = unknown(names.clone()) {
            return Err(problem);
        }
        let mut variables: Vec<String> = names.into_iter().collect();
        variables.sort();
        Ok(Condition {
            source: source.to_string(),
            variables,
        })
    }

    /// Whether the condition holds for `context`. A variable the customer lacks is an error,
    /// not false: the run records it instead of silently taking the other branch.
    pub fn holds(&self, context: &serde_json::Value) -> Result<bool, String> {
        let env = environment();
        let expression = env
            .compile_expression(&self.source)
            .map_err(|e| e.to_string())?;
        let value = expression
            .eval(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(|e| e.to_string())?;
        Ok(value.is_true())
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Condition, D::Error> {
        Condition::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
