//! The crate's checks, one data-driven helper per area.

use crate::definition::Journey;
use crate::local::{self, QuietHours};
use crate::machine::{advance, bucket, ExitReason, Facts, Outcome, RunState};
use crate::policy::{decide, Consent, Decision, SkipReason};
use crate::{library, JourneyError, Span};
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde_json::json;

fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

#[test]
fn every_built_in_journey_parses_under_its_id() {
    for (id, text) in library::BUILT_IN {
        let journey = Journey::parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(journey.id, id);
        // Stored and read back, a definition is the same journey.
        assert_eq!(Journey::parse(&journey.to_json()).unwrap(), journey, "{id}");
    }
}

/// A journey around `steps` (JSON text), with `trigger`.
fn journey_text(trigger: &str, steps: &str) -> String {
    format!(
        "{{\n  \"id\": \"j\",\n  \"name\": \"J\",\n  \"trigger\": {trigger},\n  \"steps\": [\n    {steps}\n  ]\n}}"
    )
}

const ORDER: &str = r#"{"type": "event", "event": "Order Completed"}"#;
const P_ALIVE: &str = r#"{"type": "p_alive_below", "threshold": 0.3}"#;

/// `Journey::parse` of each definition gives an error containing `expect` (None: it parses).
fn check_definitions(cases: &[(&str, &str, Option<&str>)]) {
    for (trigger, steps, expect) in cases {
        let text = journey_text(trigger, steps);
        match (Journey::parse(&text), expect) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => {
                assert!(
                    e.to_string().contains(want),
                    "{steps}: `{e}` lacks `{want}`"
                )
            }
            (got, want) => panic!("{steps}: got {got:?}, wanted an error with {want:?}"),
        }
    }
}

#[test]
fn definitions_are_checked_where_they_are_written() {
    let email = |subject: &str, body: &str| {
        format!(
            r#"{{"type": "send", "class": "marketing", "templates": {{"email": {{"subject": "{subject}", "body": "{body}"}}}}}}"#
        )
    };
    check_definitions(&[
        (ORDER, r#"{"type": "delay", "for": "3d"}"#, None),
        // Field mistakes carry the line (steps start on line 6).
        (
            ORDER,
            r#"{"type": "delay", "for": "3 days"}"#,
            Some("steps[0]: `days` in `3 days` is not a unit: use s, m, h, d or w at line 7"),
        ),
        (
            ORDER,
            r#"{"type": "dealy", "for": "3d"}"#,
            Some("unknown variant `dealy`"),
        ),
        (
            ORDER,
            r#"{"type": "delay", "for": "3d", "form": "entry"}"#,
            Some("unknown field `form`"),
        ),
        (
            ORDER,
            r#"{"type": "until", "time": "25:00"}"#,
            Some("`25:00` is not a time of day"),
        ),
        (
            ORDER,
            r#"{"type": "until", "time": "10:00", "weekdays": ["mon", "fry"]}"#,
            Some("`fry` is not a weekday"),
        ),
        (
            ORDER,
            r#"{"type": "if", "condition": "prediction.clv >"}"#,
            Some("condition:"),
        ),
        (
            ORDER,
            r#"{"type": "if", "condition": "prediction.cvl > 10"}"#,
            Some("unknown variable prediction.cvl"),
        ),
        (
            ORDER,
            &email("Hi {{ custmer.first_name }}", "x"),
            Some("unknown variable custmer.first_name"),
        ),
        (
            ORDER,
            &email(
                "Hi {{ customer.traits.size }}",
                "{% for i in order.items %}{{ i.sku }}{% endfor %}",
            ),
            None,
        ),
        (
            ORDER,
            &email("Hi {{ customer.first_name", "x"),
            Some("template:"),
        ),
        (
            ORDER,
            r#"{"type": "send", "class": "marketing", "templates": {"email": {"body": "x"}}}"#,
            Some("steps[0].templates.email: an email needs a subject"),
        ),
        (
            ORDER,
            r#"{"type": "send", "class": "marketing", "templates": {"fax": {"body": "x"}}}"#,
            Some("unknown variant `fax`"),
        ),
        (
            ORDER,
            r#"{"type": "send", "class": "marketing", "channels": ["sms"], "templates": {"email": {"subject": "s", "body": "x"}}}"#,
            Some("steps[0].channels: sms has no template"),
        ),
        (
            ORDER,
            r#"{"type": "holdout", "percent": 120}"#,
            Some("steps[0]: holdout of 120%"),
        ),
        (
            ORDER,
            r#"{"type": "if", "condition": "true", "skip": 1}"#,
            Some("skips 1 steps but only 0 follow"),
        ),
        // Cross-field: a P(alive) trigger has no order.
        (
            P_ALIVE,
            &email("Your order {{ order.id }}", "x"),
            Some("steps[0].templates.email: uses order.id, but no order starts this journey"),
        ),
        (
            P_ALIVE,
            r#"{"type": "delay", "for": "1d", "from": "order_placed"}"#,
            Some("counts from the order"),
        ),
        (
            r#"{"type": "p_alive_below", "threshold": 1.5}"#,
            r#"{"type": "exit"}"#,
            Some("trigger.threshold: 1.5 is not a probability"),
        ),
    ]);
    // A P(alive) journey must say how often a customer enters (it has no order to key on).
    let text = journey_text(
        r#"{"type": "p_alive_below", "threshold": 0.3}"#,
        r#"{"type": "exit"}"#,
    )
    .replace("\"steps\"", "\"entry\": \"once_per_order\", \"steps\"");
    assert!(
        matches!(Journey::parse(&text), Err(JourneyError::Invalid { path, .. }) if path == "entry")
    );
}

#[test]
fn durations_read_as_written() {
    for (text, want) in [
        ("90s", Ok(90)),
        ("15m", Ok(900)),
        ("4h", Ok(14_400)),
        ("3d", Ok(259_200)),
        ("2w", Ok(1_209_600)),
    ] {
        assert_eq!(
            text.parse::<Span>().map(|s| s.0).map_err(|_: String| ()),
            want,
            "{text}"
        );
        assert_eq!(text.parse::<Span>().unwrap().to_string(), text);
    }
    for bad in ["", "d", "-3d", "3y", "99999w"] {
        assert!(bad.parse::<Span>().is_err(), "{bad}");
    }
}

/// `quiet_until` for 21:00–08:00 in `zone` at each instant: the UTC instant they end, or None.
fn check_quiet(zone: Tz, cases: &[(&str, Option<&str>)]) {
    let quiet: QuietHours =
        serde_json::from_value(json!({"start": "21:00", "end": "08:00"})).unwrap();
    for (now, want) in cases {
        let got = local::quiet_until(&quiet, zone, utc(now));
        assert_eq!(got, want.map(utc), "{zone} at {now}");
    }
}

#[test]
fn quiet_hours_end_at_eight_on_the_recipients_clock_across_daylight_saving_changes() {
    // New York springs forward on 2024-03-10 (EST −5 → EDT −4) and falls back on 2024-11-03.
    // 08:00 local is 13:00 UTC the day before the change and 12:00 UTC on it: a zone-blind
    // scheduler sends an hour late (spring) or early (autumn).
    check_quiet(
        chrono_tz::America::New_York,
        &[
            ("2024-03-09T03:00:00Z", Some("2024-03-09T13:00:00Z")), // 22:00 EST on the 8th
            ("2024-03-10T05:00:00Z", Some("2024-03-10T12:00:00Z")), // 00:00 EST, ends 08:00 EDT
            ("2024-03-10T12:00:00Z", None),                         // 08:00 EDT
            ("2024-03-10T11:59:00Z", Some("2024-03-10T12:00:00Z")), // 07:59 EDT
            ("2024-03-10T20:00:00Z", None),                         // 16:00 EDT
            ("2024-11-03T04:30:00Z", Some("2024-11-03T13:00:00Z")), // 00:30 EDT, ends 08:00 EST
            ("2024-11-03T05:30:00Z", Some("2024-11-03T13:00:00Z")), // 01:30 EDT (the first one)
            ("2024-11-03T06:30:00Z", Some("2024-11-03T13:00:00Z")), // 01:30 EST (the second)
            ("2024-11-03T12:30:00Z", Some("2024-11-03T13:00:00Z")), // 07:30 EST
            ("2024-11-04T01:00:00Z", None),                         // 20:00 EST
            ("2024-11-04T02:00:00Z", Some("2024-11-04T13:00:00Z")), // 21:00 EST
        ],
    );
    // Berlin springs forward on 2024-03-31 at 02:00 (CET +1 → CEST +2).
    check_quiet(
        chrono_tz::Europe::Berlin,
        &[
            ("2024-03-30T21:00:00Z", Some("2024-03-31T06:00:00Z")), // 22:00 CET, ends 08:00 CEST
            ("2024-03-31T06:00:00Z", None),
            ("2024-03-30T19:00:00Z", None), // 20:00 CET
        ],
    );
}

#[test]
fn local_times_in_a_clock_gap_move_past_it_and_until_keeps_the_weekday() {
    let ny = chrono_tz::America::New_York;
    // 02:30 does not happen in New York on 2024-03-10: the first minute after the gap is 03:00 EDT.
    let gap = NaiveDate::from_ymd_opt(2024, 3, 10)
        .unwrap()
        .and_hms_opt(2, 30, 0)
        .unwrap();
    assert_eq!(local::instant(ny, gap), utc("2024-03-10T07:00:00Z"));
    // 01:30 happens twice on 2024-11-03: the first (EDT).
    let twice = NaiveDate::from_ymd_opt(2024, 11, 3)
        .unwrap()
        .and_hms_opt(1, 30, 0)
        .unwrap();
    assert_eq!(local::instant(ny, twice), utc("2024-11-03T05:30:00Z"));
    let tue_thu: crate::local::Weekdays = serde_json::from_value(json!(["tue", "thu"])).unwrap();
    let ten: crate::local::LocalTime = "10:00".parse().unwrap();
    for (after, want) in [
        ("2024-03-09T15:00:00Z", "2024-03-12T14:00:00Z"), // Saturday → Tuesday 10:00 EDT
        ("2024-03-12T13:59:00Z", "2024-03-12T14:00:00Z"), // Tuesday 09:59 → the same day
        ("2024-03-12T14:00:01Z", "2024-03-14T14:00:00Z"), // Tuesday just after → Thursday
        ("2024-11-01T14:30:00Z", "2024-11-05T15:00:00Z"), // Friday → Tuesday 10:00 EST
    ] {
        assert_eq!(
            local::next_at(ny, utc(after), ten, &tue_thu),
            utc(want),
            "after {after}"
        );
    }
    assert_eq!(
        local::day(ny, utc("2024-03-10T03:00:00Z")),
        NaiveDate::from_ymd_opt(2024, 3, 9).unwrap()
    );
}

/// A run of `journey` advanced at each of `at` in turn, with the customer's events: the sends
/// (step, due) and the outcome of the last advance.
fn run(
    journey: &Journey,
    entered: &str,
    events: &[(&str, &str)],
    at: &[&str],
) -> (Vec<(usize, i64)>, Outcome) {
    let events: Vec<(String, i64)> = events
        .iter()
        .map(|(e, t)| (e.to_string(), utc(t)))
        .collect();
    let last = move |name: &str| {
        events
            .iter()
            .filter(|(e, _)| e == name)
            .map(|(_, t)| *t)
            .max()
    };
    let context =
        json!({"customer": {"orders": 3}, "prediction": {"clv": 250.0}, "recommendations": ["b"]});
    let facts = Facts {
        run_key: "j:order:1",
        zone: chrono_tz::America::New_York,
        entered_at: utc(entered),
        order_placed_at: Some(utc(entered)),
        context: &context,
        last_event: &last,
    };
    let mut state = RunState {
        step: 0,
        step_at: utc(entered),
    };
    let mut sends = Vec::new();
    let mut outcome = Outcome::Done;
    for now in at {
        let next = advance(journey, state, utc(now), &facts);
        sends.extend(next.sends);
        state = next.state;
        outcome = next.outcome;
        if !matches!(outcome, Outcome::Wait { .. }) {
            break;
        }
    }
    (sends, outcome)
}

#[test]
fn runs_keep_to_the_schedule_and_end_on_the_customers_events() {
    let cart = library::built_in("cart-abandonment").unwrap().unwrap();
    let entered = "2024-05-01T12:00:00Z";
    // No order: the reminder is due 4 hours after the checkout, however late the worker looks.
    let (sends, outcome) = run(
        &cart,
        entered,
        &[],
        &["2024-05-01T13:00:00Z", "2024-05-01T19:30:00Z"],
    );
    assert_eq!(sends, vec![(1, utc("2024-05-01T16:00:00Z"))]);
    assert_eq!(outcome, Outcome::Done);
    // An order within the 4 hours ends it; one after them came too late to stop the nudge.
    let (sends, outcome) = run(
        &cart,
        entered,
        &[("Order Completed", "2024-05-01T15:00:00Z")],
        &["2024-05-01T13:00:00Z", "2024-05-01T15:00:01Z"],
    );
    assert_eq!(sends, vec![]);
    assert_eq!(
        outcome,
        Outcome::Exit(ExitReason::Event {
            event: "Order Completed".into()
        })
    );
    let (sends, _) = run(
        &cart,
        entered,
        &[("Order Completed", "2024-05-01T17:00:00Z")],
        &["2024-05-01T16:00:00Z"],
    );
    assert_eq!(sends, vec![(1, utc("2024-05-01T16:00:00Z"))]);
    // Waiting: the run says when to wake.
    let (_, outcome) = run(&cart, entered, &[], &["2024-05-01T13:00:00Z"]);
    assert_eq!(
        outcome,
        Outcome::Wait {
            until: utc("2024-05-01T16:00:00Z")
        }
    );

    // The usage guide: two days after delivery, then 10:00 New York time.
    let guide = library::built_in("usage-guide").unwrap().unwrap();
    let (sends, _) = run(
        &guide,
        "2024-03-08T23:00:00Z",
        &[],
        &["2024-03-20T00:00:00Z"],
    );
    assert_eq!(sends, vec![(2, utc("2024-03-11T14:00:00Z"))]); // Monday 10:00 EDT

    // Conditions read the customer's facts; a missing one ends the run with the reason.
    let text = journey_text(
        ORDER,
        r#"{"type": "if", "condition": "prediction.clv > 200 and customer.orders >= 3"}, {"type": "send", "class": "transactional", "templates": {"sms": {"body": "x"}}}, {"type": "if", "condition": "customer.traits.vip"}, {"type": "exit"}"#,
    );
    let journey = Journey::parse(&text).unwrap();
    let (sends, outcome) = run(&journey, entered, &[], &[entered]);
    assert_eq!(sends, vec![(1, utc(entered))]);
    assert!(
        matches!(outcome, Outcome::Exit(ExitReason::Error { step: 2, .. })),
        "{outcome:?}"
    );
}

#[test]
fn holdout_groups_are_stable_and_the_share_asked_for() {
    // 10,000 runs into a 10% holdout: the count is Binomial(10,000, 0.1), sd 30; ±4 sd.
    let held = (0..10_000)
        .filter(|i| bucket(&format!("win-back:{i}"), 0) < 10)
        .count();
    assert!((880..=1120).contains(&held), "{held}");
    assert_eq!(bucket("a", 0), bucket("a", 0));
}

/// `decide` for a message of `class` due at `due`, at `now` (New York), with `consent` and
/// suppression: the decision.
/// A message's class, due time, the time now, (marketing opt-in, topic left), suppressed, and
/// the decision wanted.
type DecisionCase<'a> = (&'a str, &'a str, &'a str, (bool, bool), bool, Decision);

fn check_decisions(cases: &[DecisionCase]) {
    for (class, due, now, (marketing, revoked), suppressed, want) in cases {
        let send: crate::Send = serde_json::from_value(json!({
            "class": class, "max_lateness": "1d", "templates": {"sms": {"body": "x"}}
        }))
        .unwrap();
        let consent = Consent {
            marketing: *marketing,
            topic_revoked: *revoked,
        };
        let got = decide(
            &send,
            utc(due),
            chrono_tz::America::New_York,
            utc(now),
            consent,
            *suppressed,
        );
        assert_eq!(got, *want, "{class} due {due} at {now}");
    }
}

#[test]
fn sends_are_decided_at_send_time() {
    use Decision::*;
    let noon = "2024-06-03T16:00:00Z"; // 12:00 EDT
    let night = "2024-06-04T03:00:00Z"; // 23:00 EDT
    check_decisions(&[
        ("marketing", noon, noon, (true, false), false, Send),
        (
            "marketing",
            noon,
            noon,
            (false, false),
            false,
            Skip(SkipReason::NoConsent),
        ),
        (
            "marketing",
            noon,
            noon,
            (true, true),
            false,
            Skip(SkipReason::Unsubscribed),
        ),
        ("transactional", noon, noon, (false, true), false, Send),
        (
            "transactional",
            noon,
            noon,
            (true, false),
            true,
            Skip(SkipReason::Suppressed),
        ),
        (
            "transactional",
            noon,
            "2024-06-04T16:00:01Z",
            (true, false),
            false,
            Skip(SkipReason::Expired),
        ),
        // Night: marketing waits for 08:00 EDT, transactional goes.
        (
            "marketing",
            night,
            night,
            (true, false),
            false,
            Defer {
                until: utc("2024-06-04T12:00:00Z"),
            },
        ),
        ("transactional", night, night, (false, false), false, Send),
        // Deferring past the lateness is an expiry now.
        (
            "marketing",
            "2024-06-03T03:00:00Z",
            night,
            (true, false),
            false,
            Skip(SkipReason::Expired),
        ),
    ]);
}

#[test]
fn templates_render_strictly() {
    let journey = library::built_in("thank-you").unwrap().unwrap();
    let crate::Step::Send(send) = &journey.steps[1] else {
        panic!()
    };
    let email = &send.templates[&crate::Channel::Email];
    let context = json!({
        "customer": {"id": "c1"}, "shop": {"name": "Acme"},
        "order": {"id": "1001", "total": "25.00", "currency": "EUR", "items": [{"sku": "mug", "quantity": 2}]}
    });
    let body = email.body.render(&context).unwrap();
    assert_eq!(body, "Hello there,\n\nthank you for your order 1001 of 25.00 EUR.\n\nYou bought:\n- 2 × mug\n\nReply to this message with any question.\n\nAcme");
    let missing = json!({"customer": {"id": "c1"}, "shop": {"name": "Acme"}});
    assert!(email.body.render(&missing).is_err());
    let _ = chrono_tz::UTC.timestamp_opt(0, 0);
}
