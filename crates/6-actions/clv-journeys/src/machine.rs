//! The step machine: given where a run is, the time and the customer's facts, what it does next
//! (messages to send, a time to wake up, or its end). Times are on the schedule, not the clock:
//! a step reached late still counts its delay from when it was due, so a run processed an hour
//! late (a worker was down) sends at the times it would have, and a simulated year gives the
//! same runs as a real one.

use crate::definition::{From, Journey, Step};
use crate::local;
use chrono_tz::Tz;
use sha2::Digest;

/// Where a run is: the step it waits at and when it reached it (on the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunState {
    pub step: usize,
    pub step_at: i64,
}

/// What the machine may read of the run's customer.
pub struct Facts<'a> {
    /// The run's key (random splits hash it, so a run always falls in the same group).
    pub run_key: &'a str,
    /// The recipient's zone.
    pub zone: Tz,
    pub entered_at: i64,
    /// When the run's order was placed (journeys an order starts).
    pub order_placed_at: Option<i64>,
    /// The variables of conditions (and templates): customer, order, prediction, loyalty, shop.
    pub context: &'a serde_json::Value,
    /// The latest time the customer did `event`, if ever (live events).
    pub last_event: &'a dyn Fn(&str) -> Option<i64>,
}

/// Why a run ended before its last step.
#[derive(Debug, Clone, PartialEq)]
pub enum ExitReason {
    /// In the holdout group of the step.
    Holdout { step: usize },
    /// The step's condition did not hold.
    Condition { step: usize },
    /// The customer did `event` (an `exit_on` event, or the event a `wait_for` step waited for).
    Event { event: String },
    /// An `exit` step.
    ExitStep { step: usize },
    /// A condition could not be evaluated for this customer (a variable they lack).
    Error { step: usize, problem: String },
}

impl ExitReason {
    /// A short code for the run's row and the stats.
    pub fn code(&self) -> String {
        match self {
            ExitReason::Holdout { .. } => "holdout".into(),
            ExitReason::Condition { step } => format!("condition:{step}"),
            ExitReason::Event { event } => format!("event:{event}"),
            ExitReason::ExitStep { step } => format!("exit:{step}"),
            ExitReason::Error { step, problem } => format!("error:{step}: {problem}"),
        }
    }
}

/// Where the run goes after an advance.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Wake at `until` (UTC seconds) or when the customer does something.
    Wait {
        until: i64,
    },
    Exit(ExitReason),
    /// Every step done.
    Done,
}

/// The result of [`advance`]: the sends reached (step and the time each is due) and the state.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    pub state: RunState,
    pub sends: Vec<(usize, i64)>,
    pub outcome: Outcome,
}

/// Run `journey` from `state` as far as `now` allows.
pub fn advance(journey: &Journey, mut state: RunState, now: i64, facts: &Facts<'_>) -> Advance {
    let mut sends = Vec::new();
    let done = |state, sends, outcome| Advance {
        state,
        sends,
        outcome,
    };
    for event in &journey.exit_on {
        if (facts.last_event)(event).is_some_and(|t| t > facts.entered_at && t <= now) {
            let reason = ExitReason::Event {
                event: event.clone(),
            };
            return done(state, sends, Outcome::Exit(reason));
        }
    }
    while let Some(step) = journey.steps.get(state.step) {
        let here = state.step;
        match step {
            Step::Delay { wait, from } => {
                let base = match from {
                    From::Previous => state.step_at,
                    From::Entry => facts.entered_at,
                    From::OrderPlaced => facts.order_placed_at.unwrap_or(facts.entered_at),
                };
                let due = base + wait.seconds();
                if due > now {
                    return done(state, sends, Outcome::Wait { until: due });
                }
                state.step_at = due.max(state.step_at);
            }
            Step::Until { time, weekdays } => {
                let due = local::next_at(facts.zone, state.step_at, *time, weekdays);
                if due > now {
                    return done(state, sends, Outcome::Wait { until: due });
                }
                state.step_at = due;
            }
            Step::If { condition, skip } => match condition.holds(facts.context) {
                Ok(true) => {}
                Ok(false) => match skip {
                    Some(n) => state.step += n,
                    None => {
                        let reason = ExitReason::Condition { step: here };
                        return done(state, sends, Outcome::Exit(reason));
                    }
                },
                Err(problem) => {
                    let reason = ExitReason::Error {
                        step: here,
                        problem,
                    };
                    return done(state, sends, Outcome::Exit(reason));
                }
            },
            Step::Holdout { percent } => {
                if bucket(facts.run_key, here) < u64::from(*percent) {
                    let reason = ExitReason::Holdout { step: here };
                    return done(state, sends, Outcome::Exit(reason));
                }
            }
            Step::WaitFor { event, timeout } => {
                let end = state.step_at + timeout.seconds();
                let seen = (facts.last_event)(event);
                if seen.is_some_and(|t| t > state.step_at && t <= end.min(now)) {
                    let reason = ExitReason::Event {
                        event: event.clone(),
                    };
                    return done(state, sends, Outcome::Exit(reason));
                }
                if end > now {
                    return done(state, sends, Outcome::Wait { until: end });
                }
                state.step_at = end;
            }
            Step::Send(_) => sends.push((here, state.step_at)),
            Step::Exit => {
                let reason = ExitReason::ExitStep { step: here };
                state.step += 1;
                return done(state, sends, Outcome::Exit(reason));
            }
        }
        state.step += 1;
    }
    done(state, sends, Outcome::Done)
}

/// A run's group at a split, 0–99, from its key: stable across processes and versions.
pub fn bucket(run_key: &str, step: usize) -> u64 {
    let digest = sha2::Sha256::digest(format!("{run_key}#{step}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100
}
