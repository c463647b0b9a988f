//! A simulated year of a 10,000-customer shop on the service, with the clock passed in: orders
//! from the BG/NBD simulator (CDNOW's published parameters) arrive live hour by hour, the shop
//! is rescored at each month's end, and every built-in journey is on. Each journey's messages are
//! counted against what the journey's rules give when applied by hand to the simulated orders
//! and the stored predictions: a thank-you per order (by SMS, to a fake Twilio that checks every
//! request), a win-back for exactly the repeat customers whose P(alive) crossed 0.3 between two
//! rescores, less the holdout and those who ordered before the message was due.

mod common;
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use clv_serve::journeys::step_due;
use clv_serve::outbox::{deliver_due, Delivery};
use common::{send, Sink};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

const CUSTOMERS: usize = 2_000;
const HOUR: i64 = 3_600;

fn day_start(date: NaiveDate) -> i64 {
    chrono::Utc
        .from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap())
        .timestamp()
}

/// The win-back message's time for a run entered at `entered`: the first Tuesday, Wednesday or
/// Thursday 10:00 UTC at or after it.
fn winback_due(entered: i64) -> i64 {
    let mut day = chrono::DateTime::from_timestamp(entered, 0)
        .unwrap()
        .date_naive();
    loop {
        let at = day_start(day) + 10 * HOUR;
        if matches!(day.weekday(), Weekday::Tue | Weekday::Wed | Weekday::Thu) && at >= entered {
            return at;
        }
        day = day.succ_opt().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_year_runs_the_built_in_journeys_to_the_hand_counted_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    let fake = common::providers().await;
    // SQLite only: the same code on PostgreSQL is what the other journey tests cover.
    let store = clv_serve::Store::open(&dir.path().join("year.db").display().to_string())
        .await
        .unwrap();
    let shop = common::shop(&store, "year", "UTC").await;
    let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let params = clv_sim::PurchaseProcess::published(clv_models::ModelKind::BG_NBD).unwrap();
    let log = clv_sim::simulate(&clv_sim::SimulationOptions {
        customers: CUSTOMERS,
        start: day_start(start),
        acquisition_days: 90.0,
        observation_days: 366.0,
        time_unit: clv_data::TimeUnit::Week,
        purchases: clv_sim::PurchaseProcess::of(clv_models::ModelKind::BG_NBD, &params).unwrap(),
        spend: clv_sim::GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        },
        catalogue: None,
        seed: 2024,
    })
    .unwrap();
    for settings in [
        json!({"channel": "sms", "base_url": fake.base, "account_sid": common::TWILIO_SID, "auth_token": common::TWILIO_TOKEN, "from": "+4930000000"}),
        json!({"channel": "email", "smtp_url": sink.url(), "from": "Shop <shop@example.com>"}),
    ] {
        clv_serve::outbox::set_channel(&store, shop.id, &serde_json::from_value(settings).unwrap())
            .await
            .unwrap();
    }
    for (id, _) in clv_journeys::library::BUILT_IN {
        clv_serve::journeys::enable(&store, shop.id, id, true)
            .await
            .unwrap();
    }
    let name = |c: u32| format!("c{c:05}");
    // Everyone: a phone (SMS preferred), an email with marketing consent.
    let identities: Vec<serde_json::Value> = (0..CUSTOMERS as u32)
        .map(|c| json!({"type": "identify", "messageId": format!("i{c}"), "userId": name(c), "timestamp": "2023-12-31T00:00:00Z",
                        "traits": {"phone": format!("+49301{c:06}"), "email": format!("{}@example.com", name(c)), "preferred_channel": "sms", "email_marketing_consent": true}}))
        .collect();
    for batch in identities.chunks(2_000) {
        send(&store, &shop, json!({ "batch": batch })).await;
    }
    let state = clv_serve::api::AppState::new(store.clone(), 2, f64::INFINITY);
    let worker = Delivery {
        senders: clv_serve::channels::Senders::new(),
        public_url: "http://127.0.0.1:9".into(),
        owner: "year".into(),
        // The simulated clock decides.
        live_clock: false,
    };
    let end = day_start(start) + 366 * 24 * HOUR;
    let mut next_order = 0;
    let mut rescores: Vec<(i64, i64)> = Vec::new(); // (run id, entered_at)
    let mut clock = day_start(start);
    // Win-back by hand, after each rescore (a rescore keeps only its predictions and the run's
    // before): the crossings in the stored predictions, the rules applied to the simulated orders.
    let mut order_times: HashMap<String, Vec<i64>> = HashMap::new();
    for o in &log.orders {
        order_times
            .entry(name(o.customer))
            .or_default()
            .push(o.time);
    }
    let mut last_entry: HashMap<String, i64> = HashMap::new();
    // A customer may fall twice (re-entry after 90 days): messages are counted per customer.
    let (mut entered, mut held, mut sent_expected) = (BTreeSet::new(), 0, Vec::new());
    while clock < end + 3 * 24 * HOUR {
        let hour_end = clock + HOUR;
        let mut batch = Vec::new();
        while next_order < log.orders.len() && log.orders[next_order].time < hour_end {
            let o = &log.orders[next_order];
            batch.push(json!({"event": "Order Completed", "messageId": format!("o{next_order}"), "userId": name(o.customer),
                "timestamp": chrono::DateTime::from_timestamp(o.time, 0).unwrap().to_rfc3339(),
                "properties": {"order_id": format!("o{next_order}"), "total": o.amount}}));
            next_order += 1;
        }
        if !batch.is_empty() {
            send(&store, &shop, json!({ "batch": batch })).await;
        }
        clock = hour_end;
        loop {
            let stepped = step_due(&store, "year", clock, 5_000).await.unwrap();
            let delivered = deliver_due(&store, &worker, clock, 5_000).await.unwrap();
            if stepped + delivered == 0 {
                break;
            }
        }
        // Month end (the clock at the 1st's midnight): rescore as of the day before.
        let today = chrono::DateTime::from_timestamp(clock, 0)
            .unwrap()
            .date_naive();
        if clock % (24 * HOUR) == 0 && today.day() == 1 && today > start && clock <= end {
            let as_of = today.pred_opt().unwrap();
            let run = clv_serve::rescore::rescore(&state, &shop, Some(as_of))
                .await
                .unwrap_or_else(|e| panic!("{}", e.message));
            assert_eq!(run.status, "done", "{}", run.detail);
            if let Some(&(previous, _)) = rescores.last() {
                let (run, at) = (run.run_id, clock);
                let rows: Vec<(String, Option<f64>, Option<f64>)> = sqlx::query_as(
                    "SELECT n.customer_id, p.p_alive, n.p_alive FROM predictions n JOIN predictions p ON p.shop_id = n.shop_id AND p.customer_id = n.customer_id AND p.run_id = $2 WHERE n.shop_id = $1 AND n.run_id = $3",
                )
                .bind(shop.id).bind(previous).bind(run).fetch_all(&store.pool).await.unwrap();
                for (customer, before, now) in rows {
                    let (Some(before), Some(now)) = (before, now) else {
                        continue;
                    };
                    let times = &order_times[&customer];
                    let orders_by_then = times.iter().filter(|t| **t < at).count();
                    let recently = last_entry
                        .get(&customer)
                        .is_some_and(|e| *e > at - 90 * 24 * HOUR);
                    if before >= 0.3 && now < 0.3 && orders_by_then >= 2 && !recently {
                        last_entry.insert(customer.clone(), at);
                        let key = format!("win-back:c:{customer}:r{run}");
                        entered.insert(key.clone());
                        if clv_journeys::machine::bucket(&key, 0) < 10 {
                            held += 1;
                            continue;
                        }
                        let due = winback_due(at);
                        if !times.iter().any(|t| *t > at && *t < due) {
                            sent_expected.push(customer);
                        }
                    }
                }
            }
            rescores.push((run.run_id, clock));
        }
    }
    assert_eq!(next_order, log.orders.len());
    let listed = clv_serve::journeys::list(&store, shop.id).await.unwrap();
    let stats: HashMap<&str, &clv_serve::journeys::Listed> =
        listed.iter().map(|j| (j.id.as_str(), j)).collect();
    let orders = log.orders.len() as i64;

    // Thank-you: one per order, by SMS, each request as Twilio takes it.
    let thanks = stats["thank-you"];
    assert_eq!(thanks.runs.get("done"), Some(&orders));
    assert_eq!(
        thanks.messages,
        HashMap::from([("sent".to_string(), orders)])
    );
    let received = fake.received.lock().unwrap().clone();
    assert!(received.iter().all(|r| r.problems.is_empty()));
    let keys: BTreeSet<&str> = received
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    assert_eq!(
        (received.len(), keys.len()),
        (orders as usize, orders as usize)
    );
    // Cross-sell: every order's run reaches its condition a week later and exits (no
    // recommendations yet); the journeys no order event starts never run.
    let cross = stats["cross-sell"];
    let week_old = log
        .orders
        .iter()
        .filter(|o| o.time + 7 * 24 * HOUR <= clock)
        .count() as i64;
    assert_eq!(cross.runs.get("exited"), Some(&week_old));
    assert_eq!(
        cross.runs.get("active").copied().unwrap_or(0),
        orders - week_old
    );
    assert!(cross.messages.is_empty());
    for id in [
        "shipping-update",
        "usage-guide",
        "review-request",
        "cart-abandonment",
    ] {
        assert!(
            stats[id].runs.is_empty() && stats[id].messages.is_empty(),
            "{id}"
        );
    }

    let stored: BTreeSet<String> = sqlx::query_as::<_, (String,)>(
        "SELECT run_key FROM journey_runs WHERE shop_id = $1 AND journey_id = 'win-back'",
    )
    .bind(shop.id)
    .fetch_all(&store.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.0)
    .collect();
    assert!(!entered.is_empty(), "the year has customers who lapse");
    assert_eq!(
        stored, entered,
        "the runs entered are the crossings counted by hand"
    );
    let winback = stats["win-back"];
    assert_eq!(winback.holdout, held);
    sent_expected.sort();
    let mut sent: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT customer_id FROM outbox WHERE shop_id = $1 AND journey_id = 'win-back' AND status = 'sent'")
        .bind(shop.id).fetch_all(&store.pool).await.unwrap().into_iter().map(|r| r.0).collect();
    sent.sort();
    assert_eq!(sent, sent_expected);
    let mut mailed: Vec<String> = sink
        .mails()
        .iter()
        .filter_map(|m| m.header("To"))
        .map(|to| to.trim_end_matches("@example.com").to_string())
        .collect();
    mailed.sort();
    assert_eq!(mailed, sent_expected);
    eprintln!(
        "{orders} orders, {} win-back runs ({held} held out), {} win-back emails",
        entered.len(),
        sent_expected.len()
    );
}
