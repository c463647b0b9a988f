//! Double-sided referrals: a new customer who comes with an existing customer's code, and whose
//! first order passes its approval window, earns points for both. Pure rules: whether a claim
//! may stand (the fraud checks, each with its reason), and what a claim's first order calls for
//! once its window has passed: both ledger rows, or a refusal.
//!
//! Policies (README, loyalty section):
//! - A referee is referred once (the store keeps one claim per referee); the claim is screened
//!   when made: not the referrer (same customer, same email once normalised, same address, same
//!   payment fingerprint), not already a customer (no order before the claim), and not more than
//!   `max_per_source` claims from one IP address or device in `source_window_days`.
//! - It pays on the referee's first order after the claim, `pending_days` after the order (the
//!   program's approval window, the same as its points): if by then the order is not cancelled
//!   and what is left after refunds is at least `min_order_minor`. Otherwise it is refused with
//!   the reason. Both rows have keys from the claim, so paying twice writes nothing.

use crate::{Entry, Kind, Program, DAY};
use serde::{Deserialize, Serialize};

/// A program's referral terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referrals {
    /// Points for the customer whose code was used.
    pub referrer_points: i64,
    /// Points for the new customer.
    pub referee_points: i64,
    /// The referee's first order, less its refunds, must reach this (minor units).
    #[serde(default)]
    pub min_order_minor: i64,
    /// Claims one IP address or device may make in the window (more are refused).
    #[serde(default = "default_per_source")]
    pub max_per_source: u32,
    #[serde(default = "default_window")]
    pub source_window_days: u32,
}

fn default_per_source() -> u32 {
    3
}

fn default_window() -> u32 {
    30
}

/// What identifies a person for the self-referral checks (any may be unknown).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub customer_id: String,
    pub email: Option<String>,
    pub address: Option<String>,
    pub payment_fingerprint: Option<String>,
}

/// A claim as it is made: who, whose code, from where, and what the store knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub referrer: Person,
    pub referee: Person,
    /// The referee's orders placed before the claim.
    pub referee_orders_before: u64,
    /// Claims from the same IP address or device in the window, this one excluded.
    pub recent_from_source: u32,
}

/// Why a referral does not pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "refusal", content = "detail")]
pub enum Refusal {
    #[error("the referee is the referrer ({0} matches)")]
    SelfReferral(String),
    #[error("the referee was already a customer ({0} orders before the claim)")]
    AlreadyCustomer(u64),
    #[error("{0} claims from this IP address or device in the window already")]
    TooManyFromSource(u32),
    #[error("the first order comes to {0} (minor units) after refunds, below the minimum")]
    BelowMinimum(i64),
    #[error("the first order was cancelled")]
    Cancelled,
    #[error("cancelled by an operator: {0}")]
    ByOperator(String),
}

/// An address as compared: lower case, letters and digits only.
fn normal_address(address: &str) -> String {
    address
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An email as compared: lower case, without a `+tag` or dots in the local part (the usual
/// ways one mailbox has many addresses).
fn normal_email(email: &str) -> String {
    let email = email.trim().to_lowercase();
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or_default().replace('.', "");
            format!("{local}@{domain}")
        }
        None => email,
    }
}

/// Whether `claim` may stand under `terms`.
pub fn screen(terms: &Referrals, claim: &Claim) -> Result<(), Refusal> {
    let (a, b) = (&claim.referrer, &claim.referee);
    let same = |x: &Option<String>, y: &Option<String>, norm: fn(&str) -> String| matches!((x, y), (Some(x), Some(y)) if !norm(x).is_empty() && norm(x) == norm(y));
    let refusal = if a.customer_id == b.customer_id {
        Some("customer id")
    } else if same(&a.email, &b.email, normal_email) {
        Some("email")
    } else if same(&a.address, &b.address, normal_address) {
        Some("address")
    } else if same(&a.payment_fingerprint, &b.payment_fingerprint, |s| {
        s.trim().to_string()
    }) {
        Some("payment fingerprint")
    } else {
        None
    };
    if let Some(what) = refusal {
        return Err(Refusal::SelfReferral(what.into()));
    }
    if claim.referee_orders_before > 0 {
        return Err(Refusal::AlreadyCustomer(claim.referee_orders_before));
    }
    if claim.recent_from_source >= terms.max_per_source {
        return Err(Refusal::TooManyFromSource(claim.recent_from_source));
    }
    Ok(())
}

/// The referee's first order after the claim, as the store knows it now.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstOrder {
    pub order_id: String,
    pub placed_at: i64,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub cancelled: bool,
}

/// What a standing claim calls for now.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Not yet: no first order, or its window ends at `until`.
    Wait {
        until: Option<i64>,
    },
    /// Both rows: (customer, entry) for the referrer, then the referee.
    Pay(Vec<(String, Entry)>),
    Refuse(Refusal),
}

/// Settle the claim of `referee` (one per referee, so the rows' keys are theirs) on `referrer`.
pub fn settle(
    program: &Program,
    terms: &Referrals,
    referrer: &str,
    referee: &str,
    order: Option<&FirstOrder>,
    now: i64,
) -> Settlement {
    let Some(order) = order else {
        return Settlement::Wait { until: None };
    };
    let approved_at = order.placed_at + i64::from(program.pending_days) * DAY;
    if now < approved_at {
        return Settlement::Wait {
            until: Some(approved_at),
        };
    }
    if order.cancelled {
        return Settlement::Refuse(Refusal::Cancelled);
    }
    let kept = order.total_minor - order.refunded_minor;
    if kept < terms.min_order_minor.max(1) {
        return Settlement::Refuse(Refusal::BelowMinimum(kept));
    }
    let row = |side: &str, points: i64, reason: String| Entry {
        key: format!("referral:{referee}:{side}"),
        kind: Kind::Referral,
        points,
        at: approved_at,
        available_at: approved_at,
        order_id: None,
        rate: 0,
        reason,
    };
    Settlement::Pay(vec![
        (
            referrer.to_string(),
            row(
                "referrer",
                terms.referrer_points,
                format!("referring a friend (order {})", order.order_id),
            ),
        ),
        (
            referee.to_string(),
            row(
                "referee",
                terms.referee_points,
                format!(
                    "joining through a friend's referral (order {})",
                    order.order_id
                ),
            ),
        ),
    ])
}
