//! The send-time decision for one message, made when a worker holds it and not before: a
//! customer who unsubscribed between scheduling and sending gets no marketing message. Caps are
//! not here: they need the other messages' rows, so the store reserves them atomically.

use crate::definition::{Class, Send};
use crate::local::{quiet_until, QuietAction};
use chrono_tz::Tz;

/// What the store knows of a customer's consent on one channel and topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    /// Opted in to marketing on the channel.
    pub marketing: bool,
    /// Left this topic (one-click unsubscribe from a message of the topic).
    pub topic_revoked: bool,
}

/// Why a message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Later than its maximum lateness.
    Expired,
    /// A marketing message to someone who never opted in on the channel.
    NoConsent,
    /// A marketing message of a topic the customer left.
    Unsubscribed,
    /// The address bounced, complained or is blocked.
    Suppressed,
    /// No address on any channel the message has a template for.
    NoAddress,
    /// The shop has not set up any channel the message has a template for.
    NotConfigured,
    /// In quiet hours, set to skip rather than wait.
    QuietHours,
    /// The frequency cap was reached.
    Capped,
    /// The template could not be rendered for this customer.
    Template,
    /// The provider refused it for good.
    Failed,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Expired => "expired",
            SkipReason::NoConsent => "no_consent",
            SkipReason::Unsubscribed => "unsubscribed",
            SkipReason::Suppressed => "suppressed",
            SkipReason::NoAddress => "no_address",
            SkipReason::NotConfigured => "channel_not_set_up",
            SkipReason::QuietHours => "quiet_hours",
            SkipReason::Capped => "capped",
            SkipReason::Template => "template",
            SkipReason::Failed => "failed",
        }
    }
}

/// What to do with a due message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on (a marketing message still needs its cap slot).
    Send,
    Skip(SkipReason),
    /// Not now: try again at `until`, UTC seconds.
    Defer {
        until: i64,
    },
}

/// Decide for a message of `send` due at `due`, to a recipient in `zone`, at `now`.
pub fn decide(
    send: &Send,
    due: i64,
    zone: Tz,
    now: i64,
    consent: Consent,
    suppressed: bool,
) -> Decision {
    // At `due + max_lateness` the message has expired: times are whole seconds, so a message
    // decided in the last second before it still arrives before its expiry, give or take the send.
    if now >= due + send.max_lateness.seconds() {
        return Decision::Skip(SkipReason::Expired);
    }
    if suppressed {
        return Decision::Skip(SkipReason::Suppressed);
    }
    if send.class == Class::Marketing {
        if consent.topic_revoked {
            return Decision::Skip(SkipReason::Unsubscribed);
        }
        if !consent.marketing {
            return Decision::Skip(SkipReason::NoConsent);
        }
    }
    if let Some(quiet) = send.quiet() {
        if let Some(end) = quiet_until(&quiet, zone, now) {
            return match quiet.action {
                // A deferral past the message's lateness is an expiry, said now.
                QuietAction::Defer if end >= due + send.max_lateness.seconds() => {
                    Decision::Skip(SkipReason::Expired)
                }
                QuietAction::Defer => Decision::Defer { until: end },
                QuietAction::Skip => Decision::Skip(SkipReason::QuietHours),
            };
        }
    }
    Decision::Send
}
