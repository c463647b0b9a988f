//! Journeys as data. A journey is a versioned JSON definition: what starts it (an ingested event,
//! or a customer's P(alive) falling below a threshold on a rescore), how often a customer may
//! enter it, and a list of steps (waits, conditions, holdouts, waits for an event, sends). This
//! crate checks definitions where they are written (serde's line and column, or the step's
//! path), says what a run does next given the time and the customer's facts, renders the
//! messages, and decides at send time whether a message may go now. It does no IO: the service
//! keeps runs and the outbox in its store and calls these functions inside its transactions.
//!
//! Everything is a function of its inputs and the time passed in, so a run advanced twice, or
//! replayed after a crash, makes the same decisions; and tests run a year of journeys in seconds.

pub mod definition;
pub mod library;
pub mod local;
pub mod machine;
pub mod policy;
pub mod span;
pub mod template;

pub use definition::{Channel, Class, Entry, Journey, Send, Step, Trigger};
pub use machine::{advance, Advance, ExitReason, Facts, Outcome, RunState};
pub use policy::{decide, Consent, Decision, SkipReason};
pub use span::Span;

/// What is wrong with a definition, or with a message being made from one.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JourneyError {
    /// Not a journey: serde's message, with the line and column.
    #[error("{0}")]
    Syntax(String),
    /// A journey that parses but cannot run as written: where (a path such as `steps[2]`) and why.
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    /// A template that cannot be rendered for this customer.
    #[error("rendering {path}: {problem}")]
    Render { path: String, problem: String },
}

#[cfg(test)]
mod tests;
