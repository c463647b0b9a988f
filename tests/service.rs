//! `clv serve` end to end, on SQLite and on a real PostgreSQL (`tools/with-postgres.sh` starts
//! one and sets CLV_TEST_POSTGRES): CDNOW imported through the API and rescored gives every
//! customer exactly what `clv score` gives on the file; every event sent three times in shuffled
//! order, and the history imported again, give the same store.

mod common;
#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/server.rs"]
mod server;
use common::{data, CDNOW_COLUMNS};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};
use server::{databases, shop, Server};
use std::process::{Command, Stdio};

/// CDNOW's lines: (order id, customer, yyyy-mm-dd, dollars as written), one order per line.
fn cdnow_orders() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(data("CDNOW_sample.txt")).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let date = format!("{}-{}-{}", &f[2][..4], &f[2][4..6], &f[2][6..]);
            (format!("o{i}"), f[1].to_string(), date, f[4].to_string())
        })
        .collect()
}

/// The CDNOW history as a shop would export it: a CSV with order ids.
fn cdnow_export() -> String {
    let mut csv = String::from("order_id,customer_id,date,amount\n");
    for (order, customer, date, amount) in cdnow_orders() {
        csv.push_str(&format!("{order},{customer},{date},{amount}\n"));
    }
    csv
}

/// The same orders as Order Completed events, at midnight UTC.
fn cdnow_events() -> Vec<Value> {
    let events = cdnow_orders().into_iter().enumerate();
    events
        .map(|(i, (order, customer, date, amount))| {
            json!({
                "type": "track", "event": "Order Completed", "messageId": format!("m{i}"),
                "userId": customer, "timestamp": format!("{date}T00:00:00Z"),
                "properties": { "order_id": order, "total": amount.parse::<f64>().unwrap(), "currency": "USD" },
            })
        })
        .collect()
}

/// POST the CDNOW export to `/api/v1/imports`; the import's report.
fn import(server: &Server, key: &str) -> Value {
    let auth = format!("Bearer {key}");
    let columns = "order_col=order_id&customer_col=customer_id&date_col=date&amount_col=amount";
    let path = format!("/api/v1/imports?{columns}");
    let (status, report) = server.raw("POST", &path, &[("Authorization", &auth)], cdnow_export());
    assert_eq!(status, 200, "{report}");
    report
}

fn send(server: &Server, key: &str, events: &[Value]) -> (u64, u64) {
    let (mut accepted, mut duplicates) = (0, 0);
    for batch in events.chunks(500) {
        let (status, answer) = server.call(
            "POST",
            "/api/v1/events",
            key,
            Some(&json!({ "batch": batch })),
        );
        assert_eq!(status, 200, "{answer}");
        accepted += answer["accepted"].as_u64().unwrap();
        duplicates += answer["duplicates"].as_u64().unwrap();
    }
    (accepted, duplicates)
}

/// `clv score` on the CDNOW file: customer id → row.
fn cli_scores(dir: &std::path::Path) -> Vec<(String, serde_json::Map<String, Value>)> {
    cli_scores_as_of(dir, "1998-06-30")
}

/// `clv score` on the CDNOW file observed to `as_of`: customer id → row.
fn cli_scores_as_of(
    dir: &std::path::Path,
    as_of: &str,
) -> Vec<(String, serde_json::Map<String, Value>)> {
    let out = dir.join(format!("scores-{as_of}.json"));
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec!["score", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend([
        "--observation-end",
        as_of,
        "--threads",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    let status = common::clv(&args).status;
    assert!(status.success());
    let rows: Vec<serde_json::Map<String, Value>> =
        serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    rows.into_iter()
        .map(|r| (r["customer_id"].as_str().unwrap().to_string(), r))
        .collect()
}

/// Every value of `want` matches `got`: numbers within 1e-9 relative, the rest equal.
fn same_row(id: &str, got: &Value, want: &serde_json::Map<String, Value>) {
    for (column, w) in want {
        let g = &got[column];
        match (g.as_f64(), w.as_f64()) {
            (Some(g), Some(w)) => {
                let scale = w.abs().max(1e-300);
                assert!(
                    (g - w).abs() / scale <= 1e-9 || g == w,
                    "{id} {column}: service {g}, clv score {w}"
                );
            }
            _ => assert_eq!(g, w, "{id} {column}"),
        }
    }
}

/// `POST /api/v1/rescore` of `key`'s shop as of `as_of`: answered 200 with run status `status`.
fn rescore(server: &Server, key: &str, as_of: &str, status: &str) -> Value {
    let body = json!({ "as_of": as_of });
    let (code, run) = server.call("POST", "/api/v1/rescore", key, Some(&body));
    assert_eq!((code, run["status"].as_str()), (200, Some(status)), "{run}");
    run
}

/// The store's orders and revenue, and every customer's predictions.
fn snapshot(server: &Server, key: &str, ids: &[String]) -> (Value, Vec<Value>) {
    let (_, shop) = server.call("GET", "/api/v1/shop", key, None);
    let profiles = ids
        .iter()
        .map(|id| {
            server
                .call("GET", &format!("/api/v1/customers/{id}"), key, None)
                .1["predictions"]
                .clone()
        })
        .collect();
    (
        json!({ "orders": shop["orders"], "total": shop["order_total_minor"] }),
        profiles,
    )
}

#[test]
fn cdnow_imported_through_the_api_scores_as_the_cli_and_replays_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli_scores(dir.path());
    let ids: Vec<String> = cli.iter().map(|(id, _)| id.clone()).collect();
    let events = cdnow_events();
    for database in databases(dir.path(), "cdnow") {
        let server = Server::start(&database);
        let clean = shop(&database, "clean");
        let report = import(&server, &clean);
        let counts = (report["accepted"].as_u64(), report["orders"].as_u64());
        assert_eq!(counts, (Some(6919), Some(6919)), "{report}");
        let run = rescore(&server, &clean, "1998-06-30", "done");
        assert_eq!(run["customers"], 2357);
        for (id, want) in &cli {
            let (status, profile) =
                server.call("GET", &format!("/api/v1/customers/{id}"), &clean, None);
            assert_eq!(status, 200);
            same_row(id, &profile["predictions"], want);
        }
        // A filtered list, page by page, is the CLI's rows filtered by hand.
        let filter = "p_alive%20%3C%200.3%20and%20predicted_clv%20%3E%2020";
        let (mut listed, mut after) = (Vec::new(), String::new());
        loop {
            let path = format!("/api/v1/customers?limit=100&after={after}&where={filter}");
            let (status, page) = server.call("GET", &path, &clean, None);
            assert_eq!(status, 200, "{page}");
            let ids = page["customers"].as_array().unwrap().iter();
            listed.extend(ids.map(|c| c["customer_id"].as_str().unwrap().to_string()));
            match page["next"].as_str() {
                Some(next) => after = next.to_string(),
                None => break,
            }
        }
        let number = |row: &serde_json::Map<String, Value>, k: &str| row[k].as_f64().unwrap();
        let mut by_hand: Vec<String> = (cli.iter())
            .filter(|(_, r)| number(r, "p_alive") < 0.3 && number(r, "predicted_clv") > 20.0)
            .map(|(id, _)| id.clone())
            .collect();
        by_hand.sort();
        assert!(by_hand.len() > 10, "{}", by_hand.len());
        assert_eq!(listed, by_hand);
        // Tiers by predicted CLV follow the CLI's predicted_clv, whatever the points.
        let program = json!({"points_per_unit": 1, "tier_basis": "predicted_clv",
            "tiers": [{"name": "member", "min_clv": 0}, {"name": "vip", "min_clv": 50}]});
        let (status, answer) =
            server.call("PUT", "/api/v1/loyalty/program", &clean, Some(&program));
        assert_eq!(status, 200, "{answer}");
        let vip = |row: &serde_json::Map<String, Value>| number(row, "predicted_clv") >= 50.0;
        assert!(cli.iter().filter(|(_, r)| vip(r)).count() >= 5);
        let vips = cli.iter().filter(|(_, r)| vip(r)).take(5);
        let others = cli.iter().filter(|(_, r)| !vip(r)).take(5);
        for (id, row) in vips.chain(others) {
            let account = account(&server, &clean, id);
            let want = if vip(row) { "vip" } else { "member" };
            assert_eq!(account["tier"], want, "{id}: {account}");
            let clv = account["tier_clv"].as_f64().unwrap();
            assert!(
                (clv - number(row, "predicted_clv")).abs() < 1e-9 * clv.max(1.0),
                "{id}"
            );
        }
        let (status, refused) = server.call(
            "GET",
            "/api/v1/customers?where=email%20%3D%201",
            &clean,
            None,
        );
        assert_eq!(
            (status, refused["error"]["field"].as_str()),
            (422, Some("where")),
            "{refused}"
        );

        // Every event three times, shuffled, then the history imported again, into a second
        // shop of the same store.
        let replayed = shop(&database, "replayed");
        let mut thrice: Vec<Value> = events
            .iter()
            .chain(&events)
            .chain(&events)
            .cloned()
            .collect();
        thrice.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
        assert_eq!(
            send(&server, &replayed, &thrice),
            (events.len() as u64, 2 * events.len() as u64)
        );
        import(&server, &replayed);
        rescore(&server, &replayed, "1998-06-30", "done");
        let (a, b) = (
            snapshot(&server, &clean, &ids),
            snapshot(&server, &replayed, &ids),
        );
        assert_eq!(a.0, b.0, "{database}: orders and revenue after the replay");
        assert_eq!(a.0["orders"], events.len());
        for (i, id) in ids.iter().enumerate() {
            same_row(id, &b.1[i], a.1[i].as_object().unwrap());
        }
    }
}

/// An event that puts `order` of `customer` for `total` dollars in the store.
fn order_event(message: &str, customer: &str, order: &str, total: f64) -> Value {
    json!({
        "type": "track", "event": "Order Completed", "messageId": message, "userId": customer,
        "timestamp": "2024-03-01T10:00:00Z", "properties": { "order_id": order, "total": total },
    })
}

/// Every documented endpoint refuses a missing, wrong or malformed key, a read-only key writing,
/// and never shows or changes another shop's data; hostile strings are stored as data.
#[test]
fn keys_are_checked_on_every_endpoint_and_shops_never_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "security") {
        let server = Server::start(&database);
        let (a, b) = (shop(&database, "a"), shop(&database, "b"));
        let (status, created) =
            server.call("POST", "/api/v1/keys", &a, Some(&json!({ "role": "read" })));
        assert_eq!(status, 201, "{created}");
        let read_only = created["key"].as_str().unwrap().to_string();
        let hostile = "x'); DROP TABLE orders; --";
        let batch = json!({ "batch": [order_event("a-1", "a1", "o-a", 10.0), order_event("a-2", hostile, "o'\"", 5.5)] });
        assert_eq!(
            server.call("POST", "/api/v1/events", &a, Some(&batch)).0,
            200
        );
        let batch = json!({ "batch": [order_event("b-1", "b1", "o-b", 99.0)] });
        assert_eq!(
            server.call("POST", "/api/v1/events", &b, Some(&batch)).0,
            200
        );
        let b_before = server.call("GET", "/api/v1/shop", &b, None).1;
        let program = loyalty_program();
        let (status, answer) = server.call("PUT", "/api/v1/loyalty/program", &a, Some(&program));
        assert_eq!(status, 200, "{answer}");

        let (_, document) = server.call_with("GET", "/api/openapi.json", &[], None);
        let paths = document["paths"].as_object().unwrap();
        assert!(paths.len() >= 7, "{paths:?}");
        for (path, methods) in paths {
            // Shop b's customer, asked for by shop a.
            let path = path.replace("{id}", "b1");
            for method in methods.as_object().unwrap().keys() {
                let method = method.to_uppercase();
                let body = Some(json!({}));
                let refused = |headers: &[(&str, &str)]| {
                    server.call_with(&method, &path, headers, body.as_ref()).0
                };
                assert_eq!(refused(&[]), 401, "{method} {path} without a key");
                for wrong in [
                    "Bearer clv_nope_nope",
                    "Bearer nonsense",
                    "Basic YTpi",
                    &format!("Bearer {a}x"),
                ] {
                    assert_eq!(
                        refused(&[("Authorization", wrong)]),
                        401,
                        "{method} {path} with {wrong}"
                    );
                }
                let (status, answer) = server.call(&method, &path, &read_only, body.as_ref());
                match method.as_str() {
                    // Shop b's customer (and its loyalty account) do not exist for shop a.
                    "GET" if path.contains("/b1") => assert_eq!(status, 404, "{path}: {answer}"),
                    "GET" => assert_eq!(status, 200, "{path}: {answer}"),
                    _ => assert_eq!(
                        status, 403,
                        "{method} {path} with a read-only key: {answer}"
                    ),
                }
                assert!(
                    !answer.to_string().contains("o-b"),
                    "{method} {path} showed shop b: {answer}"
                );
                let (_, answer) = server.call(&method, &path, &a, body.as_ref());
                assert!(
                    !answer.to_string().contains("o-b"),
                    "{method} {path} showed shop b: {answer}"
                );
            }
        }
        assert_eq!(
            server.call("GET", "/api/v1/shop", &b, None).1,
            b_before,
            "shop b changed"
        );

        // The hostile id is a customer like any other, and the tables are all there.
        let escaped = "x%27%29%3B%20DROP%20TABLE%20orders%3B%20--";
        let (status, profile) =
            server.call("GET", &format!("/api/v1/customers/{escaped}"), &a, None);
        assert_eq!(
            (status, profile["customer_id"].as_str()),
            (200, Some(hostile)),
            "{profile}"
        );
        assert_eq!(profile["orders"][0]["order_id"], "o'\"");
        let shop_a = server.call("GET", "/api/v1/shop", &a, None).1;
        assert_eq!(
            (
                shop_a["orders"].as_i64(),
                shop_a["order_total_minor"].as_i64()
            ),
            (Some(2), Some(1550))
        );
        let (status, _) = server.call(
            "GET",
            "/api/v1/customers/%27%20OR%20%271%27%3D%271",
            &a,
            None,
        );
        assert_eq!(status, 404);

        // A body over the limit is refused, and nothing of it is written.
        let huge = 17 << 20;
        let mut raw =
            std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
        let head = format!("POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\ncontent-type: application/json\r\ncontent-length: {huge}\r\n\r\n");
        let body =
            format!("{{\"batch\": [{}", order_event("big", "big", "big", 1.0)) + &" ".repeat(huge);
        // The server may stop reading once the limit is passed: a failed write is expected.
        let _ = std::io::Write::write_all(&mut raw, (head + &body[..huge]).as_bytes());
        let mut answer = [0u8; 12];
        std::io::Read::read_exact(&mut raw, &mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 413");
        assert_eq!(server.call("GET", "/api/v1/customers/big", &a, None).0, 404);
    }
}

/// Bad events are answered with the field at fault and leave the store as it was; an
/// Idempotency-Key replays the first answer, and refuses reuse for another body.
#[test]
fn bad_input_is_explained_and_idempotency_keys_replay() {
    let dir = tempfile::tempdir().unwrap();
    let database = &databases(dir.path(), "input")[0];
    let server = Server::start(database);
    let key = shop(database, "s");
    let good = order_event("m1", "c1", "o1", 12.5);
    let cases = [
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed", "properties": { "order_id": "o2", "total": 1.234 } }),
            "batch[1].properties.total",
            "more decimals",
        ),
        (
            json!({ "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed" }),
            "batch[1].messageId",
            "required",
        ),
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "yesterday", "event": "Order Completed" }),
            "batch[1].timestamp",
            "ISO 8601",
        ),
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed", "properties": { "total": 3 } }),
            "batch[1].properties.order_id",
            "order's id",
        ),
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed", "properties": { "order_id": "o2", "total": 3, "currency": "EUR" } }),
            "batch[1].properties.currency",
            "convert",
        ),
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed", "properties": { "order_id": "o2", "total": -3 } }),
            "batch[1].properties.total",
            "negative",
        ),
        (
            json!({ "messageId": "m2", "userId": "c1", "timestamp": "2024-03-01T10:00:00Z", "event": "Page Viewed" }),
            "batch[1].event",
            "not taken",
        ),
        (
            json!({ "messageId": "m2", "timestamp": "2024-03-01T10:00:00Z", "event": "Order Completed", "properties": { "order_id": "o2", "total": 3 } }),
            "batch[1].userId",
            "whose",
        ),
    ];
    for (bad, field, says) in cases {
        let (status, answer) = server.call(
            "POST",
            "/api/v1/events",
            &key,
            Some(&json!({ "batch": [good, bad] })),
        );
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // None of those batches wrote its good event either.
    assert_eq!(
        server.call("GET", "/api/v1/shop", &key, None).1["orders"],
        0
    );
    let (status, answer) = server.raw(
        "POST",
        "/api/v1/events",
        &[("Authorization", &format!("Bearer {key}"))],
        "{not json".into(),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("bad_json"))
    );

    let auth = format!("Bearer {key}");
    let with_key = |k: &str, body: &Value| {
        server.call_with(
            "POST",
            "/api/v1/events",
            &[("Authorization", &auth), ("Idempotency-Key", k)],
            Some(body),
        )
    };
    let batch = json!({ "batch": [good] });
    let first = with_key("k1", &batch);
    assert_eq!(first, (200, json!({ "accepted": 1, "duplicates": 0 })));
    assert_eq!(
        with_key("k1", &batch),
        first,
        "the same key answers as the first time"
    );
    // Without the key the same event is a duplicate: the key kept the first answer.
    assert_eq!(
        server.call("POST", "/api/v1/events", &key, Some(&batch)).1,
        json!({ "accepted": 0, "duplicates": 1 })
    );
    let (status, answer) = with_key(
        "k1",
        &json!({ "batch": [order_event("m9", "c1", "o9", 1.0)] }),
    );
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("Idempotency-Key")),
        "{answer}"
    );
    // A refused request's answer is kept too.
    let bad = json!({ "batch": [{ "messageId": "x" }] });
    let refused = with_key("k2", &bad);
    assert_eq!(refused.0, 422);
    assert_eq!(with_key("k2", &bad), refused);
}

/// A shop's history as events: orders, some refunded, some cancelled, and identifies, with what
/// the store must end up holding.
struct History {
    events: Vec<Value>,
    orders: i64,
    order_total_minor: i64,
    cancelled: i64,
    refunds: i64,
    refunded_minor: i64,
}

fn history(events: usize, seed: u64) -> History {
    use rand::Rng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut h = History {
        events: Vec::with_capacity(events),
        orders: 0,
        order_total_minor: 0,
        cancelled: 0,
        refunds: 0,
        refunded_minor: 0,
    };
    let mut placed: Vec<(String, i64, bool)> = Vec::new();
    while h.events.len() < events {
        let n = h.events.len();
        let at = format!("2024-01-{:02}T{:02}:00:00Z", 1 + n % 28, n % 24);
        let customer = format!("c{}", rng.random_range(0..20_000));
        let roll: f64 = rng.random();
        let event = if roll < 0.8 || placed.is_empty() {
            let cents = rng.random_range(100..50_000);
            let order = format!("o{n}");
            placed.push((order.clone(), cents, false));
            json!({ "type": "track", "event": "Order Completed", "messageId": format!("m{n}"), "userId": customer,
                    "timestamp": at, "properties": { "order_id": order, "total": format!("{}.{:02}", cents / 100, cents % 100) } })
        } else if roll < 0.9 {
            let (order, cents, _) = placed[rng.random_range(0..placed.len())].clone();
            let back = rng.random_range(1..=cents);
            h.refunds += 1;
            h.refunded_minor += back;
            json!({ "type": "track", "event": "Order Refunded", "messageId": format!("m{n}"), "userId": customer,
                    "timestamp": at, "properties": { "order_id": order, "total": back as f64 / 100.0 } })
        } else if roll < 0.95 {
            let i = rng.random_range(0..placed.len());
            if !placed[i].2 {
                placed[i].2 = true;
                h.cancelled += 1;
            }
            json!({ "type": "track", "event": "Order Cancelled", "messageId": format!("m{n}"), "userId": customer,
                    "timestamp": at, "properties": { "order_id": placed[i].0 } })
        } else {
            json!({ "type": "identify", "messageId": format!("m{n}"), "userId": customer, "timestamp": at,
                    "traits": { "email": format!("{customer}@example.com") } })
        };
        h.events.push(event);
    }
    for (_, cents, cancelled) in &placed {
        if !cancelled {
            h.orders += 1;
            h.order_total_minor += cents;
        }
    }
    h
}

/// `kill -9` of the server at random moments of a 100,000-event ingest, ten times: each time it
/// is restarted and what was not acknowledged is sent again. Nothing is lost or doubled, and the
/// database passes its integrity checks.
#[test]
fn killed_mid_ingest_ten_times_nothing_is_lost_or_doubled() {
    use rand::Rng;
    let dir = tempfile::tempdir().unwrap();
    let source = history(100_000, 11);
    let batches: Vec<&[Value]> = source.events.chunks(500).collect();
    for database in databases(dir.path(), "crash") {
        let key = shop(&database, "crashy");
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut kill_at: Vec<usize> = (0..10)
            .map(|_| rng.random_range(0..batches.len()))
            .collect();
        kill_at.sort();
        let mut server = Server::start(&database);
        let (mut kills, mut resent) = (0, 0);
        for (i, batch) in batches.iter().enumerate() {
            let body = json!({ "batch": batch });
            loop {
                let killer = (kill_at.first() == Some(&i)).then(|| {
                    kill_at.remove(0);
                    let pid = server.child.id().to_string();
                    let delay = std::time::Duration::from_micros(rng.random_range(0..200_000));
                    std::thread::spawn(move || {
                        std::thread::sleep(delay);
                        Command::new("kill").args(["-9", &pid]).status().unwrap();
                    })
                });
                let answer = server.try_call("POST", "/api/v1/events", &key, &body);
                if let Some(k) = killer {
                    k.join().unwrap();
                    kills += 1;
                    let _ = server.child.wait();
                    server = Server::start(&database);
                }
                match answer {
                    Some((200, _)) => break,
                    Some((status, answer)) => panic!("batch {i}: {status} {answer}"),
                    None => resent += 1,
                }
            }
        }
        assert_eq!(kills, 10);
        let (_, store) = server.call("GET", "/api/v1/shop", &key, None);
        let held = |k: &str| store[k].as_i64().unwrap();
        assert_eq!(
            held("events"),
            source.events.len() as i64,
            "{database}: {store}"
        );
        assert_eq!(held("orders"), source.orders, "{database}");
        assert_eq!(
            held("order_total_minor"),
            source.order_total_minor,
            "{database}"
        );
        assert_eq!(held("cancelled"), source.cancelled, "{database}");
        assert_eq!(
            (held("refunds"), held("refunded_minor")),
            (source.refunds, source.refunded_minor),
            "{database}"
        );
        drop(server);
        let check = common::clv(&["store", "check", "--database", &database]);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        eprintln!("{database}: 10 kills, {resent} batches sent again");
    }
}

/// The Shopify signature of `body` with `secret`, computed by Python's hmac module (not by clv's
/// own code).
fn shopify_signature(secret: &str, body: &str) -> String {
    let script = "import base64, hashlib, hmac, sys\n\
                  key, body = sys.argv[1].encode(), sys.stdin.buffer.read()\n\
                  print(base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode())";
    let mut child = Command::new("python3")
        .args(["-c", script, secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), body.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

/// Webhooks are refused unless signed with the shop's secret, applied once per delivery id, and
/// an order's older snapshot arriving late does not undo a newer one.
#[test]
fn shopify_webhooks_are_verified_applied_once_and_ordered_by_updated_at() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "shpss_0123456789abcdef";
    for database in databases(dir.path(), "shopify") {
        let server = Server::start(&database);
        let (key, other) = (shop(&database, "store"), shop(&database, "other"));
        let set = json!({ "secret": secret });
        let (status, answer) =
            server.call("POST", "/api/v1/integrations/shopify", &key, Some(&set));
        assert_eq!(status, 200, "{answer}");
        let path = answer["webhook_path"].as_str().unwrap().to_string();
        let other_path = {
            let id = server.call("GET", "/api/v1/shop", &other, None).1["id"].clone();
            format!("/webhooks/shopify/{id}")
        };
        let deliver = |path: &str,
                       topic: &str,
                       delivery: &str,
                       payload: &Value,
                       signature: Option<String>| {
            let body = payload.to_string();
            let signature = signature.unwrap_or_else(|| shopify_signature(secret, &body));
            let headers = [
                ("X-Shopify-Topic", topic),
                ("X-Shopify-Webhook-Id", delivery),
                ("X-Shopify-Hmac-Sha256", signature.as_str()),
                ("content-type", "application/json"),
            ];
            server.raw("POST", path, &headers, body)
        };
        let order = |total: &str, updated: &str, refunds: Value| {
            json!({ "id": 1001, "created_at": "2024-05-01T10:00:00+02:00", "updated_at": updated,
                    "total_price": total, "currency": "USD", "cancelled_at": null,
                    "customer": { "id": 7, "email": "ann@example.com" }, "refunds": refunds })
        };
        let refund = json!({ "id": 501, "order_id": 1001, "created_at": "2024-05-03T09:00:00Z",
            "transactions": [{ "kind": "refund", "status": "success", "amount": "5.00" },
                             { "kind": "refund", "status": "failure", "amount": "9.00" }] });
        let created = order("50.00", "2024-05-01T10:00:00+02:00", json!([]));
        assert_eq!(deliver(&path, "orders/create", "d1", &created, None).0, 200);
        let edited = order("45.00", "2024-05-02T12:00:00Z", json!([]));
        assert_eq!(deliver(&path, "orders/updated", "d2", &edited, None).0, 200);
        let stale = order("60.00", "2024-05-01T12:00:00Z", json!([]));
        assert_eq!(deliver(&path, "orders/updated", "d3", &stale, None).0, 200);
        assert_eq!(deliver(&path, "refunds/create", "d4", &refund, None).0, 200);
        let with_refund = order("45.00", "2024-05-03T09:00:01Z", json!([refund]));
        assert_eq!(
            deliver(&path, "orders/updated", "d5", &with_refund, None).0,
            200
        );
        let (status, again) = deliver(&path, "orders/updated", "d2", &edited, None);
        assert_eq!(
            (status, again),
            (200, json!({ "accepted": 0, "duplicates": 1 }))
        );
        let cancelled = json!({ "id": 1002, "created_at": "2024-05-04T10:00:00Z", "updated_at": "2024-05-04T11:00:00Z",
            "cancelled_at": "2024-05-04T11:00:00Z", "total_price": "20.00", "customer": { "id": 7 } });
        assert_eq!(
            deliver(&path, "orders/cancelled", "d6", &cancelled, None).0,
            200
        );

        // Refused: a wrong signature, none, a body changed after signing, another shop's path.
        let forged = order("1.00", "2024-06-01T00:00:00Z", json!([]));
        let wrong = Some(shopify_signature("not the secret", &forged.to_string()));
        assert_eq!(
            deliver(&path, "orders/updated", "x1", &forged, wrong).0,
            401
        );
        assert_eq!(
            deliver(&path, "orders/updated", "x2", &forged, Some(String::new())).0,
            401
        );
        let signed_other = Some(shopify_signature(secret, &created.to_string()));
        assert_eq!(
            deliver(&path, "orders/updated", "x3", &forged, signed_other).0,
            401
        );
        assert_eq!(
            deliver(&other_path, "orders/create", "x4", &created, None).0,
            401
        );
        assert_eq!(
            deliver(
                "/webhooks/shopify/999999",
                "orders/create",
                "x5",
                &created,
                None
            )
            .0,
            401
        );

        let (_, store) = server.call("GET", "/api/v1/shop", &key, None);
        let held = |k: &str| store[k].as_i64().unwrap();
        assert_eq!(
            (held("orders"), held("order_total_minor")),
            (1, 4500),
            "{store}"
        );
        assert_eq!(
            (held("refunds"), held("refunded_minor"), held("cancelled")),
            (1, 500, 1),
            "{store}"
        );
        let (_, profile) = server.call("GET", "/api/v1/customers/7", &key, None);
        assert_eq!(profile["historic_value_minor"], 4000, "{profile}");
        assert_eq!(
            profile["orders"][0]["placed_at"], "2024-05-01T08:00:00+00:00",
            "{profile}"
        );
        let (_, other_store) = server.call("GET", "/api/v1/shop", &other, None);
        assert_eq!(other_store["orders"], 0);
    }
}

/// A key over its rate is refused with 429 and when to retry; another key is not held back.
/// Too little history gives an `insufficient` run that says why, and profiles repeat it.
#[test]
fn rate_limits_per_key_and_blank_predictions_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let database = &databases(dir.path(), "limits")[0];
    let (a, b) = (shop(database, "a"), shop(database, "b"));
    let server = Server::start_with(&["--database", database, "--rate-limit", "2"]);
    // Bursts of ten, then two a second.
    let statuses: Vec<u16> = (0..14)
        .map(|_| server.call("GET", "/api/v1/shop", &a, None).0)
        .collect();
    assert_eq!(&statuses[..10], &[200; 10], "{statuses:?}");
    let (status, answer) = server.call("GET", "/api/v1/shop", &a, None);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retry in"),
        "{answer}"
    );
    assert_eq!(server.call("GET", "/api/v1/shop", &b, None).0, 200);

    let batch: Vec<Value> = (0..3)
        .map(|i| order_event(&format!("m{i}"), &format!("c{i}"), &format!("o{i}"), 10.0))
        .collect();
    assert_eq!(
        server
            .call(
                "POST",
                "/api/v1/events",
                &b,
                Some(&json!({ "batch": batch }))
            )
            .0,
        200
    );
    let run = rescore(&server, &b, "2024-06-01", "insufficient");
    assert!(
        run["detail"]
            .as_str()
            .unwrap()
            .contains("only 0 of 3 customers have ordered more than once"),
        "{run}"
    );
    let (_, profile) = server.call("GET", "/api/v1/customers/c1", &b, None);
    assert!(profile["predictions"].is_null());
    let why = profile["predictions_blank_because"].as_str().unwrap();
    assert!(
        why.contains("could not fit") && why.contains("repeat customers"),
        "{why}"
    );
}

/// `clv serve --demo` starts on the CDNOW sample, scored, and says how to use it.
#[test]
fn the_demo_serves_the_cdnow_sample_scored() {
    let server = Server::start_with(&["--demo"]);
    let key = (0..100)
        .find_map(|_| {
            let found = server
                .log
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.trim().strip_prefix("clv_").map(|k| format!("clv_{k}")));
            found.or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                None
            })
        })
        .expect("the demo prints a key");
    let (status, profile) = server.call("GET", "/api/v1/customers/1981", &key, None);
    assert_eq!(status, 200, "{profile}");
    assert!(
        profile["predictions"]["p_alive"]
            .as_f64()
            .is_some_and(|p| p > 0.0 && p <= 1.0),
        "{profile}"
    );
    assert_eq!(
        server.call("GET", "/api/v1/shop", &key, None).1["orders"],
        6919
    );
}

/// Two `clv serve` processes on one database share scheduled rescores: every slot of every shop
/// is claimed by one of them and run once.
#[test]
fn two_processes_run_each_scheduled_rescore_once() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "leases") {
        let key = shop(&database, "shared");
        // 0.00002 days: a slot every 1.7 s.
        let every = [
            "--database",
            database.as_str(),
            "--rescore-every",
            "0.00002d",
        ];
        let (one, two) = (Server::start_with(&every), Server::start_with(&every));
        let batch: Vec<Value> = (0..3)
            .map(|i| order_event(&format!("m{i}"), "c", &format!("o{i}"), 5.0))
            .collect();
        assert_eq!(
            one.call(
                "POST",
                "/api/v1/events",
                &key,
                Some(&json!({ "batch": batch }))
            )
            .0,
            200
        );
        std::thread::sleep(std::time::Duration::from_secs(6));
        drop((one, two));
        let server = Server::start(&database);
        let (_, store) = server.call("GET", "/api/v1/shop", &key, None);
        let (runs, claims) = (
            store["rescores"].as_i64().unwrap(),
            store["scheduled_rescores"].as_i64().unwrap(),
        );
        assert!(claims >= 2, "{database}: {store}");
        // Each claimed slot ran once (without claims both would run every slot: twice as many
        // runs); the kill may catch each process between its claim and its run.
        assert!(runs <= claims && runs >= claims - 2, "{database}: {store}");
    }
}

/// While a shop's rescore runs, another is refused with 409 (one running rescore a shop), and a
/// repeat of the running request's Idempotency-Key gets 409 too; afterwards the key replays the
/// first answer.
#[test]
fn one_rescore_of_a_shop_at_a_time_and_a_running_key_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.csv");
    let simulated = common::clv(&[
        "simulate",
        "--customers",
        "20000",
        "--seed",
        "5",
        "-o",
        log.to_str().unwrap(),
    ]);
    assert!(simulated.status.success());
    let orders = std::fs::read_to_string(&log).unwrap();
    for database in databases(dir.path(), "running") {
        let server = Server::start(&database);
        let key = shop(&database, "busy");
        let auth = format!("Bearer {key}");
        let (status, report) = server.raw(
            "POST",
            "/api/v1/imports",
            &[("Authorization", &auth)],
            orders.clone(),
        );
        assert_eq!(status, 200, "{report}");
        let body = json!({ "as_of": "2024-12-29" });
        let rescore = |idempotency: Option<&str>| {
            let mut headers = vec![("Authorization", auth.as_str())];
            headers.extend(idempotency.map(|k| ("Idempotency-Key", k)));
            server.call_with("POST", "/api/v1/rescore", &headers, Some(&body))
        };
        std::thread::scope(|scope| {
            let first = scope.spawn(|| rescore(Some("r1")));
            std::thread::sleep(std::time::Duration::from_millis(300));
            let (status, answer) = rescore(Some("r1"));
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (409, Some("in_flight")),
                "{answer}"
            );
            let (status, answer) = rescore(None);
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (409, Some("rescore_running")),
                "{answer}"
            );
            let first = first.join().unwrap();
            assert_eq!(
                (first.0, first.1["status"].as_str()),
                (200, Some("done")),
                "{}",
                first.1
            );
            assert_eq!(
                rescore(Some("r1")),
                first,
                "the key replays the first answer"
            );
        });
        let (status, again) = rescore(None);
        assert_eq!(
            (status, again["status"].as_str()),
            (200, Some("done")),
            "{again}"
        );
    }
}

/// Customers whose P(alive) fell below 0.3 between two rescores are those `clv score` puts at or
/// above 0.3 as of the first day and below it as of the second, by hand.
#[test]
fn changes_between_rescores_are_the_cli_scores_compared_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let p_alive = |as_of| -> std::collections::HashMap<String, f64> {
        let rows = cli_scores_as_of(dir.path(), as_of);
        rows.into_iter()
            .map(|(id, r)| (id, r["p_alive"].as_f64().unwrap()))
            .collect()
    };
    let (before, after) = (p_alive("1997-12-31"), p_alive("1998-06-30"));
    let mut by_hand: Vec<String> = after
        .iter()
        .filter(|(id, p)| **p < 0.3 && before[*id] >= 0.3)
        .map(|(id, _)| id.clone())
        .collect();
    by_hand.sort();
    assert!(by_hand.len() > 10, "{}", by_hand.len());
    let database = &databases(dir.path(), "changes")[0];
    let server = Server::start(database);
    let key = shop(database, "cdnow");
    import(&server, &key);
    let (_, none_yet) = server.call("GET", "/api/v1/changes", &key, None);
    assert!(
        none_yet["why_empty"]
            .as_str()
            .unwrap()
            .contains("two finished rescores"),
        "{none_yet}"
    );
    for as_of in ["1997-12-31", "1998-06-30"] {
        rescore(&server, &key, as_of, "done");
    }
    let (status, changes) = server.call("GET", "/api/v1/changes?p_alive_below=0.3", &key, None);
    assert_eq!(status, 200, "{changes}");
    assert_eq!(
        (changes["from_as_of"].as_str(), changes["to_as_of"].as_str()),
        (Some("1997-12-31"), Some("1998-06-30"))
    );
    let mut listed: Vec<String> = (changes["customers"].as_array().unwrap().iter())
        .map(|c| c["customer_id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, by_hand);
}

/// `--config FILE` sets what flags and environment variables do not; an unknown setting is an
/// error that names it.
#[test]
fn a_config_file_sets_what_flags_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("from-config.db");
    let config = dir.path().join("clv.toml");
    let text = format!(
        "database = {:?}\nrate_limit = 2.0\nlisten = \"127.0.0.1:1\"\n",
        database.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let key = shop(database.to_str().unwrap(), "configured");
    // --listen (given by the harness) wins over the file's.
    let server = Server::start_with(&["--config", config.to_str().unwrap()]);
    let statuses: Vec<u16> = (0..12)
        .map(|_| server.call("GET", "/api/v1/shop", &key, None).0)
        .collect();
    assert_eq!(&statuses[..10], &[200; 10]);
    assert!(
        statuses[10..].contains(&429),
        "the file's rate limit: {statuses:?}"
    );
    drop(server);
    std::fs::write(&config, "databse = \"x.db\"\n").unwrap();
    let out = common::clv(&["serve", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("databse") && stderr.contains("clv.toml"),
        "{stderr}"
    );
}

/// `clv ARGS… -o FILE.json` on the CDNOW file observed to 1998-06-30, read back.
fn cli_json(dir: &std::path::Path, command: &str) -> Value {
    let out = dir.join(format!("{command}.json"));
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec![command, cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend(["--observation-end", "1998-06-30", "--threads", "1"]);
    args.extend(["-o", out.to_str().unwrap()]);
    let run = common::clv(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// `got` equals `want`: numbers within 1e-9 relative, everything else exactly, at every depth.
fn same_json(path: &str, got: &Value, want: &Value) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1e-300),
                "{path}: {g} vs {w}"
            );
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{path}: lengths");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                same_json(&format!("{path}[{i}]"), g, w);
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(g), keys(w), "{path}: keys");
            for (k, w) in w {
                same_json(&format!("{path}.{k}"), &g[k], w);
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

/// Every customer of the shop as `GET /api/v1/customers?where=…` lists them, page by page.
fn every_customer(server: &Server, key: &str, filter: &str) -> Vec<Value> {
    let filter: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    let (mut all, mut after) = (Vec::new(), String::new());
    loop {
        let path = format!("/api/v1/customers?limit=1000&after={after}&where={filter}");
        let (status, page) = server.call("GET", &path, key, None);
        assert_eq!(status, 200, "{page}");
        all.extend(page["customers"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => return all,
        }
    }
}

/// The RFM segment and value tier of every customer, the groups' sizes and the shop metrics a
/// rescore stores are what `clv segments` and `clv metrics` say on the same file; a saved
/// segment holds the customers the CLI's rows, filtered by hand, hold.
#[test]
fn segments_tiers_and_metrics_are_the_clis_and_saved_segments_count_right() {
    let dir = tempfile::tempdir().unwrap();
    let cli_segments = cli_json(dir.path(), "segments");
    let cli_metrics = cli_json(dir.path(), "metrics");
    let cli_rows = cli_segments.as_array().unwrap();
    assert_eq!(cli_rows.len(), 2357);
    let text = |r: &Value, k: &str| r[k].as_str().unwrap().to_string();
    let by_id: std::collections::HashMap<String, &Value> = cli_rows
        .iter()
        .map(|r| (text(r, "customer_id"), r))
        .collect();
    let tally = |k: &str| {
        let mut counts = std::collections::BTreeMap::<String, i64>::new();
        cli_rows
            .iter()
            .for_each(|r| *counts.entry(text(r, k)).or_default() += 1);
        counts
    };
    for database in databases(dir.path(), "segments") {
        let server = Server::start(&database);
        let (key, other) = (shop(&database, "a"), shop(&database, "b"));
        let (_, metrics) = server.call("GET", "/api/v1/metrics", &key, None);
        assert!(metrics["why_empty"].is_string(), "{metrics}");
        import(&server, &key);
        rescore(&server, &key, "1998-06-30", "done");

        let listed = every_customer(&server, &key, "");
        assert_eq!(listed.len(), 2357);
        for c in &listed {
            let want = by_id[&text(c, "customer_id")];
            assert_eq!(
                (&c["segment"], &c["tier"]),
                (&want["segment"], &want["tier"]),
                "{c}"
            );
        }
        for id in ["1981", "0001", "2357"] {
            let (_, profile) = server.call("GET", &format!("/api/v1/customers/{id}"), &key, None);
            let want = by_id[id];
            let got = (&profile["segment"], &profile["tier"]);
            assert_eq!(got, (&want["segment"], &want["tier"]), "{id}");
            assert_eq!(profile["predictions_as_of"], "1998-06-30", "{id}");
        }
        let (_, groups) = server.call("GET", "/api/v1/segments", &key, None);
        let counts = |list: &Value| -> std::collections::BTreeMap<String, i64> {
            let rows = list.as_array().unwrap().iter();
            rows.filter(|g| g["customers"].as_i64() > Some(0))
                .map(|g| (text(g, "name"), g["customers"].as_i64().unwrap()))
                .collect()
        };
        assert_eq!(counts(&groups["rfm"]), tally("segment"), "{groups}");
        assert_eq!(counts(&groups["tiers"]), tally("tier"), "{groups}");
        assert_eq!(
            groups["rfm"].as_array().unwrap().len(),
            11,
            "every rule, empty ones too"
        );

        let (_, metrics) = server.call("GET", "/api/v1/metrics", &key, None);
        assert_eq!(metrics["as_of"], "1998-06-30");
        same_json("metrics", &metrics["metrics"], &cli_metrics);
        let months = metrics["months"].as_array().unwrap();
        assert_eq!(months.len(), 18);
        let new: u64 = months
            .iter()
            .map(|m| m["new_customers"].as_u64().unwrap())
            .sum();
        assert_eq!(new, 2357);

        // A saved segment: its size and members are the CLI's rows filtered by hand.
        let conditions = "p_alive < 0.3 and segment = \"champions\" and tier != 'rest'";
        let wanted: Vec<String> = cli_rows
            .iter()
            .filter(|r| {
                r["p_alive"].as_f64() < Some(0.3)
                    && r["segment"] == "champions"
                    && r["tier"] != "rest"
            })
            .map(|r| text(r, "customer_id"))
            .collect();
        assert!(wanted.len() > 5, "{}", wanted.len());
        let body = json!({ "name": "Champions slipping", "conditions": conditions });
        let (status, saved) = server.call("POST", "/api/v1/segments", &key, Some(&body));
        assert_eq!(
            (status, saved["customers"].as_u64()),
            (201, Some(wanted.len() as u64)),
            "{saved}"
        );
        let members: Vec<String> = (every_customer(&server, &key, conditions).iter())
            .map(|c| text(c, "customer_id"))
            .collect();
        let mut sorted = wanted.clone();
        sorted.sort();
        assert_eq!(members, sorted);
        let path = format!("/api/v1/segments/{}", saved["id"]);
        assert_eq!(server.call("GET", &path, &key, None).1, saved);
        assert_eq!(
            server.call("GET", &path, &other, None).0,
            404,
            "another shop's segment"
        );
        let (_, theirs) = server.call("GET", "/api/v1/segments", &other, None);
        assert_eq!(theirs["saved"], json!([]));
        for (body, status, field) in [
            (body.clone(), 409, None),
            (
                json!({ "name": "x", "conditions": "colour = 'red'" }),
                422,
                Some("conditions"),
            ),
            (
                json!({ "name": " ", "conditions": "p_alive < 1" }),
                422,
                Some("name"),
            ),
            (json!({ "name": "x" }), 422, Some("conditions")),
        ] {
            let (got, answer) = server.call("POST", "/api/v1/segments", &key, Some(&body));
            assert_eq!(
                (got, answer["error"]["field"].as_str()),
                (status, field),
                "{body}: {answer}"
            );
        }
    }
}

/// A dashboard request: (status, response headers, body text); redirects are not followed.
fn page(
    server: &Server,
    method: &str,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let mut response = agent.run(request).expect("the server answers");
    let headers = (response.headers().iter())
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let status = response.status().as_u16();
    (
        status,
        headers,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The `name=value` part of the Set-Cookie for `name`.
fn set_cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    header(headers, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

/// The value of the hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// Log in as `email`: the session cookie and the page's CSRF token.
fn log_in(server: &Server, email: &str, password: &str) -> (String, String) {
    let (_, headers, html) = page(server, "GET", "/login", "", &[]);
    let login = set_cookie(&headers, "clv_login").unwrap();
    let token = csrf_field(&html);
    let form = [("email", email), ("password", password), ("csrf", &token)];
    let (status, headers, _) = page(server, "POST", "/login", &login, &form);
    assert_eq!((status, header(&headers, "location")), (303, vec!["/"]));
    let cookie = header(&headers, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("clv_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let (_, _, home) = page(server, "GET", "/", &session, &[]);
    (session, csrf_field(&home))
}

/// Add a dashboard user with `clv shop user`, the password in CLV_PASSWORD.
fn add_user(
    database: &str,
    shop: &str,
    email: &str,
    password: &str,
    role: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clv"))
        .args([
            "shop",
            "user",
            shop,
            email,
            "--role",
            role,
            "--database",
            database,
        ])
        .env("CLV_PASSWORD", password)
        .output()
        .unwrap()
}

/// The dashboard: every page needs a session; login refuses a wrong password and a form without
/// its CSRF cookie; the session cookie is HttpOnly and SameSite; a form without the session's
/// CSRF token, or from a read-only user, changes nothing; a user sees only their shop; logging
/// out ends the session.
#[test]
fn dashboard_sessions_are_safe_and_users_see_only_their_shop() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "dashboard") {
        let server = Server::start(&database);
        let (a, b) = (shop(&database, "a"), shop(&database, "b"));
        let batch = json!({ "batch": [order_event("a-1", "alice", "o-a", 10.0)] });
        assert_eq!(
            server.call("POST", "/api/v1/events", &a, Some(&batch)).0,
            200
        );
        let batch = json!({ "batch": [order_event("b-1", "bob", "o-b", 99.0)] });
        assert_eq!(
            server.call("POST", "/api/v1/events", &b, Some(&batch)).0,
            200
        );
        assert!(add_user(
            &database,
            "a",
            "ann@a.example",
            "correct horse battery",
            "admin"
        )
        .status
        .success());
        assert!(add_user(
            &database,
            "b",
            "ben@b.example",
            "another long secret",
            "read"
        )
        .status
        .success());
        let refused = add_user(
            &database,
            "a",
            "ann@a.example",
            "correct horse battery",
            "admin",
        );
        assert!(String::from_utf8_lossy(&refused.stderr).contains("exists already"));
        let refused = add_user(&database, "a", "short@a.example", "short", "admin");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("too short"));

        for path in [
            "/",
            "/customers",
            "/customers/alice",
            "/segments",
            "/customer-rows",
            "/segment-preview",
        ] {
            let (status, headers, _) = page(&server, "GET", path, "", &[]);
            assert_eq!(
                (status, header(&headers, "location")),
                (303, vec!["/login"]),
                "{path}"
            );
            let (status, _, _) = page(&server, "GET", path, "clv_session=forged", &[]);
            assert_eq!(status, 303, "{path} with a forged cookie");
        }
        // A wrong password, and a login form posted without its cookie, start no session.
        let (_, headers, html) = page(&server, "GET", "/login", "", &[]);
        let (login, token) = (
            set_cookie(&headers, "clv_login").unwrap(),
            csrf_field(&html),
        );
        let wrong = [
            ("email", "ann@a.example"),
            ("password", "wrong password"),
            ("csrf", &token),
        ];
        let (status, headers, html) = page(&server, "POST", "/login", &login, &wrong);
        assert_eq!((status, set_cookie(&headers, "clv_session")), (401, None));
        assert!(html.contains("Wrong email or password"));
        let right = [
            ("email", "ann@a.example"),
            ("password", "correct horse battery"),
            ("csrf", &token),
        ];
        let (status, headers, _) = page(&server, "POST", "/login", "", &right);
        assert_eq!((status, set_cookie(&headers, "clv_session")), (401, None));

        let (ann, ann_csrf) = log_in(&server, "ANN@a.example", "correct horse battery");
        let (status, headers, html) = page(&server, "GET", "/customers", &ann, &[]);
        assert_eq!(status, 200);
        assert!(html.contains(">alice<") && !html.contains("bob"), "{html}");
        assert_eq!(header(&headers, "x-frame-options"), vec!["DENY"]);
        assert!(header(&headers, "content-security-policy")[0].contains("default-src 'self'"));
        assert_eq!(
            page(&server, "GET", "/customers/bob", &ann, &[]).0,
            404,
            "shop b's customer"
        );
        let (status, _, html) = page(&server, "GET", "/customers/alice", &ann, &[]);
        assert!(status == 200 && html.contains("10.00 USD"), "{html}");
        // Hostile text is shown as text.
        let (_, _, html) = page(&server, "GET", "/customer-rows?q=%3Cscript%3E", &ann, &[]);
        assert!(!html.contains("<script>"), "{html}");

        // Forms need the session's CSRF token; read-only users cannot save.
        let segment = [("name", "keepers"), ("conditions", "p_alive > 0.5")];
        for token in ["", "wrong"] {
            let form = [segment[0], segment[1], ("csrf", token)];
            assert_eq!(
                page(&server, "POST", "/segments", &ann, &form).0,
                403,
                "csrf {token:?}"
            );
        }
        let form = [segment[0], segment[1], ("csrf", &ann_csrf)];
        let (status, headers, _) = page(&server, "POST", "/segments", &ann, &form);
        assert_eq!(
            (status, header(&headers, "location")),
            (303, vec!["/segments"])
        );
        let (_, saved) = server.call("GET", "/api/v1/segments", &a, None);
        assert_eq!(saved["saved"][0]["name"], "keepers", "{saved}");
        let (ben, ben_csrf) = log_in(&server, "ben@b.example", "another long secret");
        let form = [segment[0], segment[1], ("csrf", &ben_csrf)];
        let (status, _, html) = page(&server, "POST", "/segments", &ben, &form);
        assert!(status == 422 && html.contains("may only read"), "{status}");
        let (_, _, html) = page(&server, "GET", "/segments", &ben, &[]);
        assert!(
            !html.contains("keepers"),
            "shop a's segment shown to shop b"
        );
        assert_eq!(
            server.call("GET", "/api/v1/segments", &b, None).1["saved"],
            json!([])
        );

        // Logging out ends the session for good.
        let logout = [("csrf", ann_csrf.as_str())];
        assert_eq!(page(&server, "POST", "/logout", &ann, &logout).0, 303);
        assert_eq!(page(&server, "GET", "/", &ann, &[]).0, 303);
    }
}

/// Strings meant to break out of a SQL literal, a LIKE pattern, a header or a JSON string, a NUL,
/// and one of a megabyte.
fn hostile_strings() -> Vec<String> {
    [
        "x' OR '1'='1",
        "'; DROP TABLE orders; --",
        "\" OR 1=1 --",
        "%_\\%' ESCAPE '",
        "a\u{0}b",
        "\u{202e}ünïcødé ✓",
    ]
    .map(String::from)
    .into_iter()
    .chain([("x".repeat(1 << 20))])
    .collect()
}

/// The body of every JSON request schema in the OpenAPI document, each string property set to
/// `value` in turn (path, method, body).
fn string_fields(document: &Value, value: &str) -> Vec<(String, String, Value)> {
    let schemas = &document["components"]["schemas"];
    let mut out = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.rsplit('/').next().unwrap()],
                None => schema,
            };
            let Some(properties) = schema["properties"].as_object() else {
                continue;
            };
            for (name, p) in properties {
                let typed = |t: &str| {
                    p["type"] == t || p["type"].as_array().is_some_and(|a| a.contains(&json!(t)))
                };
                if typed("string") {
                    out.push((path.clone(), method.to_uppercase(), json!({ name: value })));
                }
            }
        }
    }
    out
}

/// Hostile and huge strings in every string field (query and path parameters, JSON bodies,
/// every text field of an event, an uploaded export) are answered with a 2xx or a 4xx, never a
/// 5xx; whatever is stored is stored as sent; the store stays whole.
#[test]
fn hostile_and_huge_strings_in_every_field_are_harmless() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "hostile") {
        let server = Server::start(&database);
        let key = shop(&database, "a");
        let batch = json!({ "batch": [order_event("seed", "seed", "o-seed", 10.0)] });
        assert_eq!(
            server.call("POST", "/api/v1/events", &key, Some(&batch)).0,
            200
        );
        let (_, document) = server.call_with("GET", "/api/openapi.json", &[], None);
        let mut stored = 0;
        for (i, h) in hostile_strings().iter().enumerate() {
            // Percent-encoded for a path segment as well as a query (a space is %20, not +).
            // URLs carry at most 64 KiB: the megabyte string goes in bodies, 16 KiB of it in URLs.
            let in_url = &h[..h.len().min(16 << 10)];
            let encoded: String = form_urlencoded::byte_serialize(in_url.as_bytes()).collect();
            let encoded = encoded.replace('+', "%20");
            let mut tried = 0;
            for (path, methods) in document["paths"].as_object().unwrap() {
                for (method, op) in methods.as_object().unwrap() {
                    let params = op["parameters"].as_array().cloned().unwrap_or_default();
                    for p in params.iter().filter(|p| p["in"] != "header") {
                        let name = p["name"].as_str().unwrap();
                        let url = match p["in"].as_str() {
                            Some("path") => path.replace(&format!("{{{name}}}"), &encoded),
                            _ => format!("{}?{name}={encoded}", path.replace("{id}", "seed")),
                        };
                        let method = method.to_uppercase();
                        let (status, answer) = server.call(&method, &url, &key, Some(&json!({})));
                        assert!(status < 500, "{method} {url}: {status} {answer}");
                        tried += 1;
                    }
                }
            }
            for (path, method, body) in string_fields(&document, h) {
                let (status, answer) = server.call(&method, &path, &key, Some(&body));
                assert!(
                    status < 500,
                    "{method} {path} {}: {status} {answer}",
                    &body.to_string()[..80.min(body.to_string().len())]
                );
                tried += 1;
            }
            assert!(tried > 15, "{tried} fields tried");
            // Every text field of an event.
            for field in [
                "messageId",
                "userId",
                "anonymousId",
                "event",
                "type",
                "timestamp",
                "order_id",
                "currency",
                "email",
            ] {
                let mut event = order_event(
                    &format!("m-{i}-{field}"),
                    &format!("c-{i}-{field}"),
                    &format!("o-{i}-{field}"),
                    1.0,
                );
                match field {
                    "order_id" | "currency" => event["properties"][field] = json!(h),
                    "email" => event["traits"] = json!({ "email": h }),
                    _ => event[field] = json!(h),
                }
                let (status, answer) = server.call(
                    "POST",
                    "/api/v1/events",
                    &key,
                    Some(&json!({ "batch": [event] })),
                );
                assert!(status == 200 || status == 422, "{field}: {status} {answer}");
                if status == 200 && field == "userId" {
                    let (status, profile) =
                        server.call("GET", &format!("/api/v1/customers/{encoded}"), &key, None);
                    assert_eq!(
                        (status, profile["customer_id"].as_str()),
                        (200, Some(in_url))
                    );
                    stored += 1;
                }
            }
            // An export whose customer and order ids are the string.
            let csv = format!(
                "customer,date,amount,order\n\"{}\",2024-01-05,12.50,\"{}\"\n",
                h.replace('"', "\"\""),
                h.replace('"', "\"\"")
            );
            let (status, answer) = server.raw(
                "POST",
                "/api/v1/imports?customer_col=customer&date_col=date&amount_col=amount&order_col=order",
                &[("Authorization", &format!("Bearer {key}")), ("content-type", "text/csv")],
                csv,
            );
            assert!(status < 500, "import: {status} {answer}");
        }
        assert!(stored >= 4, "{stored} hostile ids stored and read back");
        // Ids with the characters a text format must escape (tab, newline, carriage return,
        // backslash, `\N`) come back from a rescore as they were sent.
        let ids: Vec<String> = (0..30)
            .map(|k| format!("{}\t{k}\n\\N\r\\{}", ["a", "b", "c"][k % 3], "x".repeat(k)))
            .collect();
        let mut orders = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            for (n, day) in [(1, "1997-03-05"), (2, "1998-02-09")] {
                let mut e = order_event(
                    &format!("esc-{k}-{n}"),
                    id,
                    &format!("esc-{k}-{n}"),
                    5.0 + k as f64,
                );
                e["timestamp"] = json!(format!("{day}T10:00:00Z"));
                orders.push(e);
            }
        }
        // Among the CDNOW customers, so that the models have something to fit.
        import(&server, &key);
        let (status, answer) = server.call(
            "POST",
            "/api/v1/events",
            &key,
            Some(&json!({ "batch": orders })),
        );
        assert_eq!(status, 200, "{answer}");
        rescore(&server, &key, "1998-06-30", "done");
        let listed = every_customer(&server, &key, "p_alive >= 0");
        for id in &ids {
            let c = listed.iter().find(|c| c["customer_id"] == json!(id));
            assert!(
                c.is_some_and(|c| c["p_alive"].is_number() && c["segment"].is_string()),
                "{id:?}"
            );
        }
        let (status, shop) = server.call("GET", "/api/v1/shop", &key, None);
        assert_eq!(status, 200, "{shop}");
        let check = common::clv(&["store", "check", "--database", &database]);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// The basket sample's reading options, for the CLI and for `POST /api/v1/imports`.
const BASKET_COLUMNS: [(&str, &str); 6] = [
    ("customer-col", "customer_id"),
    ("date-col", "date"),
    ("amount-col", "amount"),
    ("order-col", "order_id"),
    ("sku-col", "sku"),
    ("quantity-col", "quantity"),
];

/// `clv COMMAND` on the basket sample with `extra` options, `-o FILE.json` read back.
fn cli_products(dir: &std::path::Path, command: &str, extra: &[&str]) -> Value {
    let out = dir.join(format!("{command}-products.json"));
    let file = data("baskets_sample.csv");
    let mut args: Vec<String> = vec![command.into(), file.display().to_string()];
    for (flag, column) in BASKET_COLUMNS {
        args.extend([format!("--{flag}"), column.into()]);
    }
    args.extend(extra.iter().map(|e| e.to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = common::clv(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// Products from order lines: the basket sample imported with its SKU column, and the same
/// orders sent as Order Completed events with `properties.products`, give the cycles and
/// reminders of `clv replenish` and the rules of `clv cross-sell` on the file; a resent order
/// with fewer lines replaces its lines.
#[test]
fn products_from_order_lines_are_the_clis_replenish_and_cross_sell() {
    let dir = tempfile::tempdir().unwrap();
    let as_of = "2024-12-31";
    let cycles = cli_products(
        dir.path(),
        "replenish",
        &[
            "--as-of",
            as_of,
            "--cycles",
            dir.path().join("cycles.json").to_str().unwrap(),
        ],
    );
    let cli_cycles: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cycles.json")).unwrap()).unwrap();
    let rules = cli_products(dir.path(), "cross-sell", &["--observation-end", as_of]);
    assert!(cycles.as_array().unwrap().len() > 50 && rules.as_array().unwrap().len() > 100);
    let text = std::fs::read_to_string(data("baskets_sample.csv")).unwrap();
    // The file's orders as events: one Order Completed per order, its lines as products.
    let mut orders: std::collections::BTreeMap<String, (String, String, Vec<Value>, f64)> =
        Default::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (quantity, amount): (f64, f64) = (f[4].parse().unwrap(), f[5].parse().unwrap());
        let o =
            orders
                .entry(f[1].to_string())
                .or_insert((f[0].into(), f[2].into(), Vec::new(), 0.0));
        o.2.push(json!({ "sku": f[3], "quantity": quantity, "price": format!("{:.2}", amount / quantity) }));
        o.3 += amount;
    }
    let events: Vec<Value> = (orders.iter())
        .map(|(id, (customer, day, products, total))| json!({
            "type": "track", "event": "Order Completed", "messageId": format!("m-{id}"), "userId": customer,
            "timestamp": format!("{day}T12:00:00Z"),
            "properties": { "order_id": id, "total": format!("{total:.2}"), "products": products },
        }))
        .collect();
    let query: String = (BASKET_COLUMNS.iter())
        .map(|(flag, column)| format!("{}={column}", flag.replace('-', "_")))
        .collect::<Vec<_>>()
        .join("&");
    for database in databases(dir.path(), "products") {
        let server = Server::start(&database);
        let (imported, sent) = (shop(&database, "imported"), shop(&database, "sent"));
        let (_, empty) = server.call("GET", "/api/v1/products", &imported, None);
        assert!(empty["why_empty"].is_string(), "{empty}");
        let (status, report) = server.raw(
            "POST",
            &format!("/api/v1/imports?{query}"),
            &[
                ("Authorization", &format!("Bearer {imported}")),
                ("content-type", "text/csv"),
            ],
            text.clone(),
        );
        assert_eq!(
            (status, report["rejected"].as_u64()),
            (200, Some(0)),
            "{report}"
        );
        for batch in events.chunks(500) {
            let (status, answer) = server.call(
                "POST",
                "/api/v1/events",
                &sent,
                Some(&json!({ "batch": batch })),
            );
            assert_eq!(status, 200, "{answer}");
        }
        for key in [&imported, &sent] {
            rescore(&server, key, as_of, "done");
            let (_, products) = server.call("GET", "/api/v1/products", key, None);
            assert_eq!(products["as_of"], as_of);
            same_json("cycles", &products["cycles"], &cli_cycles);
            same_json("reminders", &products["reminders"], &cycles);
            same_json("rules", &products["rules"], &rules);
        }
        // The order resent later with one line: its other lines are gone.
        let (id, (customer, day, lines, _)) = orders.iter().find(|o| o.1 .2.len() > 1).unwrap();
        let resent = json!({
            "type": "track", "event": "Order Completed", "messageId": format!("m-{id}-again"), "userId": customer,
            "timestamp": format!("{day}T13:00:00Z"),
            "properties": { "order_id": id, "total": "1.00", "products": [ { "sku": lines[0]["sku"], "quantity": 1, "price": "1.00" } ] },
        });
        assert_eq!(
            server
                .call("POST", "/api/v1/events", &sent, Some(&resent))
                .0,
            200
        );
        let count = |db: &str| {
            let sql = format!("SELECT COUNT(*) FROM order_lines l JOIN shops s ON s.id = l.shop_id WHERE s.name = 'sent' AND l.order_id = '{id}'");
            let out = if db.starts_with("postgres") {
                Command::new("psql")
                    .args([db, "-Atc", &sql])
                    .output()
                    .unwrap()
            } else {
                Command::new("sqlite3").args([db, &sql]).output().unwrap()
            };
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        if database.starts_with("postgres")
            || Command::new("sqlite3").arg("--version").output().is_ok()
        {
            assert_eq!(count(&database), "1", "{database}");
        }
        let bad = json!({ "batch": [{
            "type": "track", "event": "Order Completed", "messageId": "bad", "userId": "c", "timestamp": "2024-01-01T00:00:00Z",
            "properties": { "order_id": "bad", "total": 1, "products": [ { "sku": "a", "quantity": -1 } ] } }] });
        let (status, answer) = server.call("POST", "/api/v1/events", &sent, Some(&bad));
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (422, Some("batch[0].properties.products[0].quantity")),
            "{answer}"
        );
    }
}

/// The program the loyalty tests run: a point a dollar, spendable at once, two lifetime tiers,
/// $10 off for 100 points.
fn loyalty_program() -> Value {
    json!({
        "points_per_unit": 1, "pending_days": 0, "tier_window": "lifetime",
        "tiers": [{ "name": "member", "min_points": 0 }, { "name": "gold", "min_points": 500 }],
        "rewards": [{ "id": "ten-off", "name": "$10 off", "kind": "fixed_discount", "points": 100, "value": 1000 }],
    })
}

fn account(server: &Server, key: &str, customer: &str) -> Value {
    let (status, account) = server.call(
        "GET",
        &format!("/api/v1/customers/{customer}/loyalty"),
        key,
        None,
    );
    assert_eq!(status, 200, "{account}");
    account
}

/// Points follow the orders on both databases: CDNOW imported (twice) earns each customer the
/// sum of their orders' whole dollars, as a backfill of a program set after the import does;
/// refunds and cancellations sent three times in shuffled order take back their share once; 50
/// concurrent redemptions of 1,000 points at 100 each: exactly 10 succeed.
#[test]
fn loyalty_points_follow_orders_once_and_redemptions_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "loyalty") {
        let (live, later) = (shop(&database, "live"), shop(&database, "later"));
        let server = Server::start(&database);
        // A program that cannot hold is refused with the reason.
        let mut bad = loyalty_program();
        bad["tiers"][1]["min_points"] = json!(0);
        bad["bonus"] = json!(1);
        let (status, answer) = server.call("PUT", "/api/v1/loyalty/program", &live, Some(&bad));
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer.to_string().contains("unknown field `bonus`"),
            "{answer}"
        );
        bad.as_object_mut().unwrap().remove("bonus");
        let (status, answer) = server.call("PUT", "/api/v1/loyalty/program", &live, Some(&bad));
        assert!(
            status == 422 && answer.to_string().contains("must need more points"),
            "{answer}"
        );
        let (status, answer) = server.call(
            "PUT",
            "/api/v1/loyalty/program",
            &live,
            Some(&loyalty_program()),
        );
        assert_eq!(status, 200, "{answer}");

        // The naive sum: every CDNOW order's whole dollars, by customer.
        let mut want: std::collections::BTreeMap<String, i64> = Default::default();
        for (_, customer, _, dollars) in cdnow_orders() {
            let cents: i64 = (dollars.parse::<f64>().unwrap() * 100.0).round() as i64;
            *want.entry(customer).or_default() += cents / 100;
        }
        import(&server, &live);
        import(&server, &live);
        import(&server, &later);
        let (status, answer) = server.call(
            "PUT",
            "/api/v1/loyalty/program",
            &later,
            Some(&loyalty_program()),
        );
        assert_eq!(status, 200, "{answer}");
        let (status, filled) = server.call("POST", "/api/v1/loyalty/backfill", &later, None);
        assert_eq!(status, 200, "{filled}");
        assert_eq!(filled["orders"], json!(cdnow_orders().len()));
        let (_, again) = server.call("POST", "/api/v1/loyalty/backfill", &later, None);
        assert_eq!(
            again["rows_written"],
            json!(0),
            "a second backfill wrote rows"
        );
        let (_, none) = server.call("POST", "/api/v1/loyalty/backfill", &live, None);
        assert_eq!(
            none["rows_written"],
            json!(0),
            "live ingest had missed rows"
        );
        // Every customer of the live shop (a missed row anywhere shows), every seventh of the other.
        for (n, (customer, points)) in want.iter().enumerate() {
            let keys = if n % 7 == 0 {
                vec![&live, &later]
            } else {
                vec![&live]
            };
            for key in keys {
                let a = account(&server, key, customer);
                assert_eq!(a["balance"]["available"], json!(points), "{customer}: {a}");
                let tier = if *points >= 500 { "gold" } else { "member" };
                assert_eq!(a["tier"], json!(tier), "{customer}");
            }
        }

        // Expiry switched on for the other shop on 1 January 2025, a month's life: every CDNOW
        // lot counts from then and expired at the end of February 2025. The server sweeps when it
        // starts; then a sweep on request finds nothing left.
        let mut expiring = loyalty_program();
        (expiring["expiry_months"], expiring["expiry_since"]) = (json!(1), json!(1_735_689_600));
        let (status, answer) =
            server.call("PUT", "/api/v1/loyalty/program", &later, Some(&expiring));
        assert_eq!(status, 200, "{answer}");
        drop(server);
        // -v: the sweep logs what it expired.
        let server = Server::start_with(&["--database", &database, "-v"]);
        let (customer, points) = want.iter().find(|(_, p)| **p > 0).unwrap();
        let swept = (0..400).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let log = server.log.lock().unwrap();
            log.iter().any(|l| l.contains("loyalty: points expired"))
        });
        assert!(
            swept,
            "the sweep at start did not expire {customer}'s points"
        );
        let a = account(&server, &later, customer);
        assert_eq!(a["balance"]["expired"], json!(points), "{a}");
        let (_, again) = server.call("POST", "/api/v1/loyalty/expire", &later, None);
        assert_eq!(again["rows_written"], json!(0), "{again}");
        let last = want.keys().last().unwrap();
        assert_eq!(
            account(&server, &later, last)["balance"]["available"],
            json!(0)
        );
        assert_eq!(
            account(&server, &live, last)["balance"]["available"],
            json!(want[last])
        );

        // Refunds and a cancellation, each event three times in shuffled order.
        let at = |day: u32| format!("2024-03-{day:02}T10:00:00Z");
        let mut events = vec![
            json!({ "type": "track", "event": "Order Completed", "messageId": "l1", "userId": "ana", "timestamp": at(1),
                    "properties": { "order_id": "A", "total": 250.0 } }),
            json!({ "type": "track", "event": "Order Completed", "messageId": "l2", "userId": "ana", "timestamp": at(2),
                    "properties": { "order_id": "B", "total": 120.5 } }),
            json!({ "type": "track", "event": "Order Refunded", "messageId": "l3", "userId": "ana", "timestamp": at(3),
                    "properties": { "order_id": "A", "total": 100.0 } }),
            json!({ "type": "track", "event": "Order Refunded", "messageId": "l4", "userId": "ana", "timestamp": at(4),
                    "properties": { "order_id": "A", "total": 50.0 } }),
            json!({ "type": "track", "event": "Order Cancelled", "messageId": "l5", "userId": "ana", "timestamp": at(5),
                    "properties": { "order_id": "B" } }),
            json!({ "type": "track", "event": "Order Completed", "messageId": "l6", "userId": "rich", "timestamp": at(1),
                    "properties": { "order_id": "R", "total": 1000.0 } }),
        ];
        events = [events.clone(), events.clone(), events].concat();
        events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
        for e in &events {
            let (status, answer) = server.call("POST", "/api/v1/events", &live, Some(e));
            assert_eq!(status, 200, "{answer}");
        }
        // A: 250 earned, 100 + 50 of 250 dollars refunded take back 150; B: cancelled, nothing.
        let ana = account(&server, &live, "ana");
        assert_eq!(ana["balance"]["available"], json!(100), "{ana}");
        let taken: i64 = (ana["ledger"].as_array().unwrap().iter())
            .filter(|e| e["kind"] == "reverse" || e["kind"] == "cancel")
            .map(|e| e["points"].as_i64().unwrap())
            .sum();
        let earned: i64 = (ana["ledger"].as_array().unwrap().iter())
            .filter(|e| e["kind"] == "earn")
            .map(|e| e["points"].as_i64().unwrap())
            .sum();
        // B earned 120 unless its cancellation came first (then it never earned).
        assert!(earned == 250 || earned == 370, "{ana}");
        assert_eq!(earned + taken, 100, "{ana}");

        // 50 redemptions at once against 1,000 points.
        let server = std::sync::Arc::new(server);
        let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..50)
                .map(|i| {
                    let (server, live) = (server.clone(), live.clone());
                    s.spawn(move || {
                        let body =
                            json!({ "reward": "ten-off", "idempotency_key": format!("k{i}") });
                        server.call(
                            "POST",
                            "/api/v1/customers/rich/loyalty/redemptions",
                            &live,
                            Some(&body),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 201)
            .map(|(_, a)| a)
            .collect();
        let refused = answers
            .iter()
            .filter(|(s, a)| *s == 409 && a["error"]["code"] == "not_enough_points")
            .count();
        assert_eq!((won.len(), refused), (10, 40), "{answers:?}");
        let codes: std::collections::HashSet<&str> =
            won.iter().map(|a| a["code"].as_str().unwrap()).collect();
        assert_eq!(codes.len(), 10);
        let rich = account(&server, &live, "rich");
        assert_eq!(rich["balance"]["available"], json!(0), "{rich}");
        assert_eq!(rich["balance"]["redeemed"], json!(1000), "{rich}");
        // A retry of a redemption that went through gets its code and spends nothing.
        let (i, first) = answers
            .iter()
            .enumerate()
            .find(|(_, (s, _))| *s == 201)
            .unwrap();
        let body = json!({ "reward": "ten-off", "idempotency_key": format!("k{i}") });
        let (status, retry) = server.call(
            "POST",
            "/api/v1/customers/rich/loyalty/redemptions",
            &live,
            Some(&body),
        );
        assert_eq!((status, &retry["code"]), (200, &first.1["code"]), "{retry}");
        assert_eq!(
            account(&server, &live, "rich")["balance"]["available"],
            json!(0)
        );
        // The liability by hand: CDNOW's points, ana's 100 and rich's none left; ten $10
        // rewards issued; 10 cents a point ($10 for 100); nothing expired on this shop.
        let (status, economics) = server.call("GET", "/api/v1/loyalty/liability", &live, None);
        assert_eq!(status, 200, "{economics}");
        let cdnow_points: i64 = want.values().sum();
        let liability = &economics["liability"];
        assert_eq!(
            liability["outstanding_points"],
            json!(cdnow_points + 100),
            "{economics}"
        );
        assert_eq!(
            liability["outstanding_value_minor"],
            json!((cdnow_points + 100) * 10)
        );
        assert_eq!(liability["point_value_minor"], json!(10.0));
        assert_eq!(liability["breakage"], json!(0.0));
        let issued = (
            &liability["rewards_issued"],
            &liability["cash_rewards_minor"],
        );
        assert_eq!(issued, (&json!(10), &json!(10_000)));
        assert_eq!(
            economics["points"]["earned"],
            json!(cdnow_points + 100 + 1000)
        );
        assert_eq!(economics["points"]["redeemed"], json!(1000));
        let group = |g: &str, f: &str| economics[g][f].as_f64().unwrap_or(0.0);
        let customers = group("members", "customers") + group("others", "customers");
        assert_eq!(customers, (want.len() + 2) as f64, "{economics}");
        let orders = group("members", "customers") * group("members", "orders_per_customer")
            + group("others", "customers") * group("others", "orders_per_customer");
        // Every CDNOW order, ana's A (B was cancelled) and rich's R.
        assert!(
            (orders - (cdnow_orders().len() + 2) as f64).abs() < 1e-6,
            "{economics}"
        );
        assert!(
            economics["members"]["mean_predicted_clv"].is_null(),
            "no rescore ran"
        );

        // An unknown reward and an unknown customer are explained.
        let body = json!({ "reward": "yacht", "idempotency_key": "y" });
        let (status, answer) = server.call(
            "POST",
            "/api/v1/customers/rich/loyalty/redemptions",
            &live,
            Some(&body),
        );
        assert!(
            status == 422 && answer.to_string().contains("no reward `yacht`"),
            "{answer}"
        );
        let (status, _) = server.call("GET", "/api/v1/customers/nobody/loyalty", &live, None);
        assert_eq!(status, 404);
    }
}

/// The seed's double-sided referral through the API on both databases: $10 (100 points, the
/// price of "$10 off") to each side once the referee's first order has passed its approval
/// window, refusals with their reasons (self-referral by a +tag email, already a customer, too
/// many claims from one IP, a first order refunded below the minimum), an operator's
/// cancellation, and replays that pay nothing twice.
#[test]
fn a_referral_pays_both_sides_once_and_each_fraud_check_refuses_its_case() {
    let dir = tempfile::tempdir().unwrap();
    for database in databases(dir.path(), "referrals") {
        let key = shop(&database, "acme");
        let server = Server::start(&database);
        let mut program = loyalty_program();
        program["referrals"] = json!({"referrer_points": 100, "referee_points": 100,
            "min_order_minor": 2500, "max_per_source": 2, "source_window_days": 30});
        let (status, answer) = server.call("PUT", "/api/v1/loyalty/program", &key, Some(&program));
        assert_eq!(status, 200, "{answer}");
        let identify = |id: &str, email: &str| {
            json!({"type": "identify", "messageId": format!("id-{id}"), "userId": id,
                   "timestamp": "2024-01-01T00:00:00Z", "traits": {"email": email}})
        };
        send(
            &server,
            &key,
            &[
                identify("ann", "Ann.Lee@mail.example"),
                identify("dan", "dan@mail.example"),
                order_event("dan-1", "dan", "D1", 30.0),
            ],
        );
        let (status, code) = server.call("GET", "/api/v1/customers/ann/referral", &key, None);
        assert_eq!(status, 200, "{code}");
        let (_, again) = server.call("GET", "/api/v1/customers/ann/referral", &key, None);
        assert_eq!(code, again, "a customer has one code");
        let code = code["code"].as_str().unwrap().to_string();
        let claim = |customer: &str, extra: Value| {
            let mut body = json!({"code": code.to_lowercase(), "customer_id": customer});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            server.call("POST", "/api/v1/referrals", &key, Some(&body))
        };
        /// A claim's answer: status, and the stored status and reason.
        fn check(answer: (u16, Value), expect: (u16, &str, &str)) {
            let (status, body) = answer;
            let reason = body["reason"].as_str().unwrap_or_default();
            assert!(
                status == expect.0
                    && body["status"] == json!(expect.1)
                    && reason.contains(expect.2),
                "{status} {body}, expected {expect:?}"
            );
        }
        let ip = json!({"source": "203.0.113.7"});
        check(claim("bob", ip.clone()), (201, "pending", ""));
        check(claim("bob", ip.clone()), (200, "pending", ""));
        check(
            claim("ann2", json!({"email": "annlee+deals@MAIL.example"})),
            (201, "refused", "email matches"),
        );
        check(
            claim("dan", json!({})),
            (201, "refused", "already a customer"),
        );
        check(claim("eve", ip.clone()), (201, "pending", ""));
        check(
            claim("fay", ip.clone()),
            (201, "refused", "2 claims from this IP"),
        );
        check(claim("gus", json!({})), (201, "pending", ""));
        check(claim("ivy", json!({})), (201, "pending", ""));
        let (status, _) = claim("ann", json!({}));
        assert_eq!(status, 201, "ann referring herself is stored refused");
        let unknown = json!({"code": "NOSUCHCODE", "customer_id": "hal"});
        let (status, answer) = server.call("POST", "/api/v1/referrals", &key, Some(&unknown));
        assert_eq!(status, 404, "{answer}");
        // Another code for bob: a customer is referred once.
        let (_, dan_code) = server.call("GET", "/api/v1/customers/dan/referral", &key, None);
        let other = json!({"code": dan_code["code"], "customer_id": "bob"});
        let (status, answer) = server.call("POST", "/api/v1/referrals", &key, Some(&other));
        assert_eq!(status, 409, "{answer}");
        // First orders after the claims (the program's window is 0 days): bob's $40 stands,
        // eve's $40 is refunded to $15; gus's claim is cancelled by an operator.
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let at = |mut e: Value| {
            e["timestamp"] = json!(now);
            e
        };
        send(
            &server,
            &key,
            &[
                at(order_event("bob-1", "bob", "B1", 40.0)),
                at(order_event("eve-1", "eve", "E1", 40.0)),
                at(
                    json!({"type": "track", "event": "Order Refunded", "messageId": "eve-r", "userId": "eve",
                          "properties": {"order_id": "E1", "total": 25.0}}),
                ),
                at(order_event("gus-1", "gus", "G1", 90.0)),
                // Ivy's order of 2024 arrives after her claim: she was a customer already.
                order_event("ivy-0", "ivy", "I0", 20.0),
                at(order_event("ivy-1", "ivy", "I1", 60.0)),
            ],
        );
        let cancel = json!({"reason": "a duplicate account"});
        let (status, answer) =
            server.call("POST", "/api/v1/referrals/gus/cancel", &key, Some(&cancel));
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("cancelled")),
            "{answer}"
        );
        let (status, _) = server.call("POST", "/api/v1/referrals/gus/cancel", &key, Some(&cancel));
        assert_eq!(status, 409);
        let (status, settled) = server.call("POST", "/api/v1/referrals/settle", &key, None);
        assert_eq!((status, settled), (200, json!({"paid": 1, "refused": 2})));
        let (_, again) = server.call("POST", "/api/v1/referrals/settle", &key, None);
        assert_eq!(again, json!({"paid": 0, "refused": 0}), "settled twice");
        let (_, list) = server.call("GET", "/api/v1/referrals", &key, None);
        let by_referee = |id: &str| {
            let r = list
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["referee_id"] == json!(id));
            r.cloned().unwrap_or_default()
        };
        assert_eq!(by_referee("bob")["order_id"], json!("B1"));
        let eve = by_referee("eve");
        assert!(eve["reason"].as_str().unwrap().contains("1500"), "{eve}");
        assert!(by_referee("gus")["reason"]
            .as_str()
            .unwrap()
            .contains("duplicate account"));
        let ivy = by_referee("ivy");
        assert!(
            ivy["reason"]
                .as_str()
                .unwrap()
                .contains("already a customer"),
            "{ivy}"
        );
        // Ann: 100 referral points; bob: 100 plus his order's 40. The $10 reward is theirs.
        for (customer, points) in [("ann", 100), ("bob", 140), ("eve", 15), ("gus", 90)] {
            let a = account(&server, &key, customer);
            assert_eq!(a["balance"]["available"], json!(points), "{customer}: {a}");
        }
        let ann = account(&server, &key, "ann");
        let rows: Vec<&str> = (ann["ledger"].as_array().unwrap().iter())
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        assert_eq!(rows, ["referral:bob:referrer"]);
        let (_, owed) = server.call("GET", "/api/v1/loyalty/liability", &key, None);
        assert_eq!(owed["points"]["referrals"], json!(200), "{owed}");
    }
}
