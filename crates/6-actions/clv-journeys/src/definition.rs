//! The journey definition: what starts a run, who may enter and how often, what ends it early,
//! and its steps. Read from JSON; every field is checked as it is read, so a mistake is reported
//! with its line and column, and [`Journey::parse`] then checks what spans fields (a template
//! using `order.*` in a journey no order starts).

use crate::local::{LocalTime, QuietAction, QuietHours, Weekdays};
use crate::span::Span;
use crate::template::{needs_order, Condition, Text};
use crate::JourneyError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A journey as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// Lowercase letters, digits and dashes: the journey's name in URLs, keys and commands.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub trigger: Trigger,
    /// How often a customer may enter; default once per order for journeys an order starts,
    /// once per customer for the others (see [`Journey::entry`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
    /// Events that end a run at once (a purchase ends a cart-abandonment run).
    #[serde(default)]
    pub exit_on: Vec<String>,
    #[serde(deserialize_with = "steps")]
    pub steps: Vec<Step>,
}

/// The steps, each error prefixed with the step's index (serde_json adds the line; a step's
/// fields are read after the whole step, so the line is where the step ends).
fn steps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    struct Steps;
    impl<'de> serde::de::Visitor<'de> for Steps {
        type Value = Vec<Step>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of steps")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Step>, A::Error> {
            let mut steps = Vec::new();
            loop {
                match seq.next_element::<Step>() {
                    Ok(Some(step)) => steps.push(step),
                    Ok(None) => return Ok(steps),
                    Err(e) => {
                        let i = steps.len();
                        return Err(serde::de::Error::custom(format!("steps[{i}]: {e}")));
                    }
                }
            }
        }
    }
    d.deserialize_seq(Steps)
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// An event ingested live (`Order Completed`, `Order Delivered`, `Checkout Started`, …).
    /// Imports and backfills never start runs.
    Event { event: String },
    /// A rescore finds the customer's P(alive) below `threshold` where the rescore before had it
    /// at or above (a crossing, so a customer enters once per fall, not on every rescore).
    PAliveBelow {
        threshold: f64,
        /// Only customers with at least this many orders (one-time buyers are not "lost").
        #[serde(default)]
        min_orders: u32,
        /// Only customers whose predicted CLV is at least this (in the shop's currency).
        #[serde(default)]
        min_clv: f64,
    },
}

impl Trigger {
    /// Whether the run knows an order (its templates may use `order.*`).
    pub fn has_order(&self) -> bool {
        matches!(self, Trigger::Event { event } if ORDER_EVENTS.contains(&event.as_str()))
    }
}

/// The events that carry an order.
pub const ORDER_EVENTS: [&str; 5] = [
    "Order Completed",
    "Order Shipped",
    "Order Delivered",
    "Order Refunded",
    "Order Cancelled",
];

/// How often a customer may enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// Once for each order (events without an order: once per event).
    OncePerOrder,
    /// Once ever.
    OncePerCustomer,
    /// Again when the last entry is at least `days` old.
    ReentryAfter { days: u32 },
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Wait `for` a time, counted from the previous step (default), the entry, or when the
    /// order was placed.
    Delay {
        #[serde(rename = "for")]
        wait: Span,
        #[serde(default)]
        from: From,
    },
    /// Wait until a time of day on the recipient's clock, on the weekdays given (default all).
    Until {
        time: LocalTime,
        #[serde(default)]
        weekdays: Weekdays,
    },
    /// Go on if `condition` holds, otherwise exit (or skip the next `skip` steps).
    If {
        condition: Condition,
        #[serde(default)]
        skip: Option<usize>,
    },
    /// Put `percent` of the runs in a holdout that receives nothing: the comparison group that
    /// turns "revenue near a message" into revenue a message caused.
    Holdout { percent: u8 },
    /// Wait for the customer's `event` for at most `timeout`: the event ends the run; the
    /// timeout goes on (cart abandonment: no order within 4 hours → the nudge).
    WaitFor { event: String, timeout: Span },
    /// Send a message.
    Send(Send),
    /// End the run.
    Exit,
}

/// What a delay counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum From {
    #[default]
    Previous,
    Entry,
    OrderPlaced,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// Transactional messages (order updates) need no marketing consent and are never capped;
    /// marketing messages need both.
    pub class: Class,
    /// The consent topic a marketing message belongs to (`winback`, `reviews`, …): a customer can
    /// leave one topic and keep the rest.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// The text per channel. The customer's preferred channel is used when it has a template,
    /// then the others in the order written here.
    pub templates: BTreeMap<Channel, Message>,
    /// Order of preference when the customer states none (default: the order of `templates`).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// A message later than this after its time is not sent at all (a "thank you" a week late
    /// is worse than none).
    #[serde(default = "default_lateness")]
    pub max_lateness: Span,
    /// Quiet hours on the recipient's clock; marketing messages default to 21:00–08:00
    /// deferred, transactional ones to none.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

fn default_topic() -> String {
    "marketing".to_string()
}

fn default_lateness() -> Span {
    Span(86_400)
}

impl Send {
    /// The quiet hours that apply.
    pub fn quiet(&self) -> Option<QuietHours> {
        match (&self.quiet_hours, self.class) {
            (Some(q), _) => Some(q.clone()),
            (None, Class::Marketing) => Some(QuietHours {
                start: LocalTime(chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default()),
                end: LocalTime(chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default()),
                action: QuietAction::Defer,
            }),
            (None, Class::Transactional) => None,
        }
    }

    /// The channels to try, in order: `preferred` first when it has a template.
    pub fn channel_order(&self, preferred: Option<Channel>) -> Vec<Channel> {
        let mut order: Vec<Channel> = Vec::new();
        let listed = self.channels.iter().chain(self.templates.keys());
        for c in preferred.into_iter().chain(listed.copied()) {
            if self.templates.contains_key(&c) && !order.contains(&c) {
                order.push(c);
            }
        }
        order
    }
}

/// A message's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Transactional,
    Marketing,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Transactional => "transactional",
            Class::Marketing => "marketing",
        }
    }
}

/// A channel a message can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Whatsapp,
    Telegram,
    Messenger,
    Instagram,
    Line,
    Wechat,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::Email,
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Telegram,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Line,
        Channel::Wechat,
        Channel::Webhook,
    ];

    /// Every channel's name, for messages that list them.
    pub const NAMES: &'static str =
        "email, sms, whatsapp, telegram, messenger, instagram, line, wechat or webhook";

    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Telegram => "telegram",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Line => "line",
            Channel::Wechat => "wechat",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == text)
    }
}

/// A message's text on one channel: a subject (email) and a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    #[serde(default)]
    pub subject: Option<Text>,
    pub body: Text,
}

impl Journey {
    /// Read and check a definition.
    pub fn parse(text: &str) -> Result<Journey, JourneyError> {
        let journey: Journey =
            serde_json::from_str(text).map_err(|e| JourneyError::Syntax(e.to_string()))?;
        journey.check()?;
        Ok(journey)
    }

    /// What the fields cannot check alone.
    pub fn check(&self) -> Result<(), JourneyError> {
        let invalid = |path: String, problem: String| Err(JourneyError::Invalid { path, problem });
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && (self.id.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return invalid(
                "id".into(),
                format!(
                    "`{}`: use 1–64 lowercase letters, digits and dashes",
                    self.id
                ),
            );
        }
        if self.steps.is_empty() {
            return invalid("steps".into(), "a journey needs at least one step".into());
        }
        if let Trigger::PAliveBelow { threshold, .. } = self.trigger {
            if !(threshold > 0.0 && threshold < 1.0) {
                return invalid(
                    "trigger.threshold".into(),
                    format!("{threshold} is not a probability strictly between 0 and 1"),
                );
            }
            if self.entry == Some(Entry::OncePerOrder) {
                return invalid(
                    "entry".into(),
                    "a P(alive) trigger has no order: use once_per_customer or reentry_after"
                        .into(),
                );
            }
        }
        let has_order = self.trigger.has_order();
        for (i, step) in self.steps.iter().enumerate() {
            let path = format!("steps[{i}]");
            match step {
                Step::Holdout { percent } if *percent > 100 => {
                    return invalid(path, format!("holdout of {percent}%: at most 100"));
                }
                Step::If {
                    skip: Some(n),
                    condition,
                } => {
                    if i + n >= self.steps.len() {
                        return invalid(
                            path,
                            format!(
                                "skips {n} steps but only {} follow",
                                self.steps.len() - i - 1
                            ),
                        );
                    }
                    if let Some(v) = condition.variables.iter().find(|v| needs_order(v)) {
                        if !has_order {
                            return invalid(path, no_order(v));
                        }
                    }
                }
                Step::If { condition, .. } => {
                    if let Some(v) = condition.variables.iter().find(|v| needs_order(v)) {
                        if !has_order {
                            return invalid(path, no_order(v));
                        }
                    }
                }
                Step::Delay {
                    from: From::OrderPlaced,
                    ..
                } if !has_order => {
                    return invalid(
                        path,
                        "counts from the order, but no order starts this journey".into(),
                    );
                }
                Step::Send(send) => {
                    if send.templates.is_empty() {
                        return invalid(
                            path,
                            "a send needs a template for at least one channel".into(),
                        );
                    }
                    if let Some(c) = send
                        .channels
                        .iter()
                        .find(|c| !send.templates.contains_key(c))
                    {
                        return invalid(
                            format!("{path}.channels"),
                            format!("{} has no template", c.name()),
                        );
                    }
                    for (channel, message) in &send.templates {
                        let texts = message.subject.iter().chain([&message.body]);
                        for v in texts.flat_map(|t| &t.variables) {
                            if needs_order(v) && !has_order {
                                return invalid(
                                    format!("{path}.templates.{}", channel.name()),
                                    no_order(v),
                                );
                            }
                        }
                    }
                    if send.templates.contains_key(&Channel::Email)
                        && send.templates[&Channel::Email].subject.is_none()
                    {
                        return invalid(
                            format!("{path}.templates.email"),
                            "an email needs a subject".into(),
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// How often a customer may enter.
    pub fn entry(&self) -> Entry {
        match self.entry {
            Some(entry) => entry,
            None if self.trigger.has_order() => Entry::OncePerOrder,
            None => Entry::OncePerCustomer,
        }
    }

    /// The definition as stored: pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn no_order(variable: &str) -> String {
    format!("uses {variable}, but no order starts this journey (its trigger is not an order event)")
}
