//! Outbox throughput: messages a second from a journey's send step to a real SMTP server
//! (aiosmtpd, through tools/smtp-sink.sh) and to a local HTTP provider (the signed webhook
//! channel, answered 200 by an in-process server), on SQLite and on PostgreSQL
//! (`CLV_TEST_POSTGRES`, as the tests). One worker, claims of 100, the way `clv serve` sends.
//!
//!   tools/with-postgres.sh cargo bench -p clv-serve --bench outbox [-- MESSAGES]

#[path = "../tests/common/mod.rs"]
mod common;

use clv_serve::outbox::{deliver_due, Delivery};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Messages `store` sends to `settings`' channel for `n` customers' orders, and how long the
/// sends took (the journey steps that write the outbox rows are done before the clock starts).
async fn run(
    store: &clv_serve::Store,
    channel: serde_json::Value,
    name: &str,
    n: usize,
) -> (usize, f64) {
    let shop = common::shop(store, name, "UTC").await;
    common::set_channel(store, &shop, channel).await;
    let definition = json!({"id": "thanks", "name": "thanks", "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"type": "send", "class": "transactional", "templates": {
            "email": {"subject": "Thank you", "body": "Thank you for order {{ order.id }}."},
            "webhook": {"body": "Thank you for order {{ order.id }}."}}}]});
    common::save_journey(store, &shop, definition).await;
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        let events: Vec<serde_json::Value> = (batch.iter())
            .flat_map(|i| {
                [
                    json!({"type": "identify", "messageId": format!("i{i}"), "userId": format!("c{i}"), "timestamp": "2024-06-01T09:00:00Z", "traits": {"email": format!("c{i}@example.com")}}),
                    json!({"event": "Order Completed", "messageId": format!("o{i}"), "userId": format!("c{i}"), "timestamp": "2024-06-03T12:00:00Z",
                           "properties": {"order_id": format!("{i}"), "total": 25.0, "currency": "USD"}}),
                ]
            })
            .collect();
        common::send(store, &shop, json!({ "batch": events })).await;
    }
    let now = common::utc("2024-06-03T12:00:00Z");
    while clv_serve::journeys::step_due(store, "bench", now, 1000)
        .await
        .unwrap()
        > 0
    {}
    let worker = Delivery {
        senders: clv_serve::channels::Senders::new(),
        public_url: "http://127.0.0.1:9".into(),
        owner: "bench".into(),
        live_clock: false,
    };
    let started = std::time::Instant::now();
    let mut sent = 0;
    loop {
        let done = deliver_due(store, &worker, now, 100).await.unwrap();
        if done == 0 {
            break;
        }
        sent += done;
    }
    (sent, started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(2_000);
    let sink = common::Sink::start();
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    println!("| store | channel | messages | seconds | messages/s |\n|---|---|---|---|---|");
    for (database, store) in ["SQLite", "PostgreSQL"]
        .iter()
        .zip(common::stores(dir.path(), "outbox_bench").await)
    {
        for (channel, settings) in [
            (
                "email (aiosmtpd)",
                json!({"channel": "email", "smtp_url": sink.url(), "from": "Shop <shop@example.com>"}),
            ),
            (
                "webhook (HTTP)",
                json!({"channel": "webhook", "url": hook, "secret": "s"}),
            ),
        ] {
            let name = format!("{database}-{}", &channel[..5]);
            let (sent, seconds) = run(&store, settings, &name, n).await;
            assert_eq!(sent, n, "{database} {channel}: every message sent");
            println!(
                "| {database} | {channel} | {sent} | {seconds:.2} | {:.0} |",
                sent as f64 / seconds
            );
        }
    }
    assert_eq!(
        received.load(Ordering::Relaxed),
        2 * n,
        "the HTTP provider got every message"
    );
    let mails = sink.mails().len();
    assert_eq!(mails, 2 * n, "the SMTP sink got every message");
}
