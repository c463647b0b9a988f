//! Journeys and the outbox on SQLite and on a real PostgreSQL, with the clock passed in: days of
//! journeys run in seconds. Email goes to a real SMTP server (aiosmtpd, writing a Maildir), SMS
//! and the chat apps (WhatsApp, Telegram, Messenger, Instagram, LINE, WeChat) to local fakes that
//! check every request.

mod common;
use clv_serve::journeys::step_due;
use clv_serve::outbox::{deliver_due, Delivery};
use clv_serve::{Shop, Store};
use common::{latest, save_journey, send, set_channel, utc, Sink};
use serde_json::{json, Value};

fn delivery(owner: &str) -> Delivery {
    Delivery {
        senders: clv_serve::channels::Senders::new(),
        public_url: "http://127.0.0.1:9".into(),
        owner: owner.into(),
        // The simulated clock decides.
        live_clock: false,
    }
}

/// Advance every due run and deliver every due message at `now`, until nothing is left to do.
async fn tick(store: &Store, now: i64) {
    let worker = delivery("tick");
    loop {
        let stepped = step_due(store, "tick", now, 1000).await.unwrap();
        let delivered = deliver_due(store, &worker, now, 1000).await.unwrap();
        if stepped + delivered == 0 {
            return;
        }
    }
}

async fn email_to(store: &Store, shop: &Shop, sink: &Sink) {
    let settings =
        json!({"channel": "email", "smtp_url": sink.url(), "from": "Shop <shop@example.com>"});
    set_channel(store, shop, settings).await;
}

fn identify(message: &str, customer: &str, at: &str, traits: Value) -> Value {
    json!({"type": "identify", "messageId": message, "userId": customer, "timestamp": at, "traits": traits})
}

fn order(message: &str, customer: &str, order: &str, at: &str) -> Value {
    json!({"event": "Order Completed", "messageId": message, "userId": customer, "timestamp": at,
           "properties": {"order_id": order, "total": 25.0, "currency": "USD"}})
}

/// Counts of `table` rows of `shop` whose `column` is each value, as (value, count) sorted.
async fn counts(store: &Store, shop: &Shop, table: &str, column: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT {column}, COUNT(*) FROM {table} WHERE shop_id = $1 GROUP BY {column} ORDER BY {column}");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop.id)
        .fetch_all(&store.pool)
        .await
        .unwrap()
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, i64)> {
    items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_order_delivered_three_times_and_a_backfill_make_one_run_and_one_email() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    for store in common::stores(dir.path(), "replay").await {
        let shop = common::shop(&store, "replay", "Europe/Berlin").await;
        email_to(&store, &shop, &sink).await;
        clv_serve::journeys::enable(&store, shop.id, "thank-you", true)
            .await
            .unwrap();
        let payload = json!({"id": 1001, "created_at": "2024-05-01T10:00:00+02:00", "updated_at": "2024-05-01T10:00:00+02:00",
            "total_price": "50.00", "currency": "USD", "cancelled_at": null,
            "customer": {"id": 7, "email": "ann@example.com"}, "line_items": [{"sku": "mug", "quantity": 2, "price": "25.00"}]});
        let customer = json!({"id": 7, "email": "ann@example.com", "first_name": "Ann", "updated_at": "2024-05-01T09:00:00+02:00"});
        let deliver = |topic: &'static str, delivery: &'static str, body: Value| {
            let (store, shop) = (store.clone(), shop.clone());
            async move {
                let mut headers = axum::http::HeaderMap::new();
                headers.insert("x-shopify-topic", topic.parse().unwrap());
                headers.insert("x-shopify-webhook-id", delivery.parse().unwrap());
                let events = clv_serve::shopify::events(&shop, &headers, &body).unwrap();
                clv_serve::events::apply(&store.writer, &shop, &events)
                    .await
                    .unwrap()
            }
        };
        deliver("customers/create", "c1", customer).await;
        for _ in 0..3 {
            deliver("orders/create", "d1", payload.clone()).await;
        }
        // An edit of the order is another delivery: still the same order.
        let mut edited = payload.clone();
        edited["updated_at"] = json!("2024-05-01T10:05:00+02:00");
        deliver("orders/updated", "d2", edited).await;
        // The full history imported after: it already holds the order, and imports start nothing.
        let export =
            "order_id,customer_id,date,amount\n1001,7,2024-05-01,50.00\n1000,7,2024-03-01,20.00\n";
        let options = clv_serve::imports::ImportOptions {
            read: clv_data::ReadOptions {
                threads: 1,
                ..Default::default()
            },
            date_format: None,
            strict: true,
        };
        clv_serve::imports::import(
            &store.writer,
            &shop,
            "history.csv".into(),
            export.as_bytes().to_vec(),
            options,
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
        let before = sink.mails().len();
        // Due an hour after the order (08:00 UTC): nothing before, once after, however often
        // the workers look.
        tick(&store, utc("2024-05-01T08:59:59Z")).await;
        assert_eq!(sink.mails().len(), before);
        for now in [
            "2024-05-01T09:00:00Z",
            "2024-05-01T09:00:01Z",
            "2024-05-01T12:00:00Z",
        ] {
            tick(&store, utc(now)).await;
        }
        assert_eq!(
            counts(&store, &shop, "journey_runs", "status").await,
            pairs(&[("done", 1)])
        );
        assert_eq!(
            counts(&store, &shop, "outbox", "status").await,
            pairs(&[("sent", 1)])
        );
        let mails = sink.mails();
        assert_eq!(mails.len(), before + 1);
        let mail = mails
            .iter()
            .find(|m| m.header("To") == Some("ann@example.com") && !m.body.contains("1000"))
            .unwrap();
        assert_eq!(
            mail.header("Subject"),
            Some("Thank you for your order 1001")
        );
        assert!(mail.body.contains("Hello Ann,"), "{}", mail.body);
        assert!(
            mail.body
                .contains("thank you for your order 1001 of 50.00 USD."),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("- 2 × mug"), "{}", mail.body);
        // Transactional: no unsubscribe header; the Message-ID is the outbox key's.
        assert_eq!(mail.header("List-Unsubscribe"), None);
        let key = mail.header("X-Clv-Idempotency-Key").unwrap();
        assert_eq!(key, "thank-you:o:1001#1");
        assert_eq!(
            mail.header("Message-ID"),
            Some(clv_serve::outbox::message_id(shop.id, key).as_str())
        );
    }
}

/// A journey sending a marketing message of topic `tips` at once, and a day later a
/// transactional one and another `tips` one.
fn tips_journey() -> Value {
    let email = |subject: &str| json!({"email": {"subject": subject, "body": "Hello {{ customer.first_name }}. {{ links.unsubscribe }}"}});
    json!({"id": "tips", "name": "Tips", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
        {"type": "send", "class": "marketing", "topic": "tips", "templates": email("Tip 1")},
        {"type": "delay", "for": "1d"},
        {"type": "send", "class": "transactional", "templates": email("Your receipt")},
        {"type": "send", "class": "marketing", "topic": "tips", "templates": email("Tip 2")}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_between_scheduling_and_sending_stops_marketing_not_transactional() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    for store in common::stores(dir.path(), "consent").await {
        let shop = common::shop(&store, "consent", "UTC").await;
        email_to(&store, &shop, &sink).await;
        save_journey(&store, &shop, tips_journey()).await;
        let (ann, bob) = (
            format!("ann-{:?}@example.com", store.backend),
            "bob@example.com",
        );
        send(&store, &shop, json!({"batch": [
            identify("i1", "ann", "2024-06-01T09:00:00Z", json!({"email": ann, "first_name": "Ann", "email_marketing_consent": true})),
            identify("i2", "bob", "2024-06-01T09:00:00Z", json!({"email": bob, "first_name": "Bob"})),
            order("o1", "ann", "1", "2024-06-03T12:00:00Z"),
            order("o2", "bob", "2", "2024-06-03T12:00:00Z"),
        ]})).await;
        tick(&store, utc("2024-06-03T12:00:00Z")).await;
        let mine = |subject: &str| {
            sink.mails()
                .into_iter()
                .filter(|m| {
                    m.header("To") == Some(ann.as_str()) && m.header("Subject") == Some(subject)
                })
                .collect::<Vec<_>>()
        };
        let tip = mine("Tip 1");
        assert_eq!(tip.len(), 1);
        // Bob never opted in: no marketing, recorded as such.
        let bob_log = clv_serve::outbox::log(&store, shop.id, "bob")
            .await
            .unwrap();
        assert_eq!(
            bob_log
                .iter()
                .map(|m| (m.status.as_str(), m.reason.as_deref()))
                .collect::<Vec<_>>(),
            vec![("skipped", Some("no_consent"))]
        );
        // RFC 8058: the link, and one-click POST.
        let header = tip[0].header("List-Unsubscribe").unwrap().to_string();
        assert_eq!(
            tip[0].header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let link = header.trim_matches(['<', '>']);
        assert!(tip[0].body.contains(link), "the body carries the same link");
        let token = link.rsplit('/').next().unwrap();
        // The day after, both messages are scheduled (written to the outbox) before the customer unsubscribes.
        step_due(&store, "stepper", utc("2024-06-04T12:00:00Z"), 100)
            .await
            .unwrap();
        let pending = clv_serve::outbox::log(&store, shop.id, "ann")
            .await
            .unwrap();
        assert_eq!(pending.iter().filter(|m| m.status == "pending").count(), 2);
        // A changed token is refused; the real one leaves the topic.
        assert!(
            clv_serve::outbox::unsubscribe(&store, &token.replace('.', ".0"))
                .await
                .is_err()
        );
        assert_eq!(
            clv_serve::outbox::unsubscribe(&store, token).await.unwrap(),
            ("email".into(), "tips".into())
        );
        tick(&store, utc("2024-06-04T12:00:00Z")).await;
        assert_eq!(mine("Your receipt").len(), 1);
        assert_eq!(mine("Tip 2").len(), 0);
        let log = clv_serve::outbox::log(&store, shop.id, "ann")
            .await
            .unwrap();
        let tip2 = log.iter().find(|m| m.message_key == "tips:o:1#3").unwrap();
        assert_eq!(
            (tip2.status.as_str(), tip2.reason.as_deref()),
            ("skipped", Some("unsubscribed"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_journeys_at_one_instant_under_a_cap_of_one_a_day_send_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    for store in common::stores(dir.path(), "cap").await {
        let shop = common::shop(&store, "cap", "UTC").await;
        email_to(&store, &shop, &sink).await;
        clv_serve::outbox::set_messaging(
            &store,
            shop.id,
            &clv_serve::outbox::Messaging {
                marketing_per_day: 1,
            },
        )
        .await
        .unwrap();
        for id in ["first", "second"] {
            save_journey(&store, &shop, json!({"id": id, "name": id, "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
                {"type": "send", "class": "marketing", "templates": {"email": {"subject": id, "body": "x"}}}]})).await;
        }
        let customers: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let mut batch: Vec<Value> = customers.iter().map(|c| identify(&format!("i{c}"), c, "2024-06-01T09:00:00Z", json!({"email": format!("{c}.{}@example.com", shop.id), "email_marketing_consent": true}))).collect();
        batch.extend(customers.iter().map(|c| {
            order(
                &format!("o{c}"),
                c,
                &format!("o{c}"),
                "2024-06-03T12:00:00Z",
            )
        }));
        send(&store, &shop, json!({ "batch": batch })).await;
        let now = utc("2024-06-03T12:00:00Z");
        step_due(&store, "stepper", now, 1000).await.unwrap();
        // Two workers deliver at once, one message each at a time.
        let (a, b) = (delivery("a"), delivery("b"));
        loop {
            let (x, y) = tokio::join!(
                deliver_due(&store, &a, now, 1),
                deliver_due(&store, &b, now, 1)
            );
            if x.unwrap() + y.unwrap() == 0 {
                break;
            }
        }
        let mut per_customer =
            std::collections::HashMap::<String, Vec<(String, Option<String>)>>::new();
        for c in &customers {
            for m in clv_serve::outbox::log(&store, shop.id, c).await.unwrap() {
                per_customer
                    .entry(c.clone())
                    .or_default()
                    .push((m.status, m.reason));
            }
        }
        for c in &customers {
            let mut got = per_customer[c].clone();
            got.sort();
            assert_eq!(
                got,
                vec![
                    ("sent".to_string(), None),
                    ("skipped".to_string(), Some("capped".to_string()))
                ],
                "{c}"
            );
        }
        // The next local day has a slot again.
        send(
            &store,
            &shop,
            json!({"batch": [order("next", "c0", "next", "2024-06-04T12:00:00Z")]}),
        )
        .await;
        tick(&store, utc("2024-06-04T12:00:00Z")).await;
        let log = clv_serve::outbox::log(&store, shop.id, "c0").await.unwrap();
        assert_eq!(log.iter().filter(|m| m.status == "sent").count(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_on_the_recipients_clock_on_a_daylight_saving_day() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    for store in common::stores(dir.path(), "quiet").await {
        // The shop is in London; the customer in New York, where clocks go forward on 2024-03-10.
        let shop = common::shop(&store, "quiet", "Europe/London").await;
        email_to(&store, &shop, &sink).await;
        save_journey(&store, &shop, json!({"id": "now", "name": "now", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
            {"type": "send", "class": "marketing", "templates": {"email": {"subject": "now", "body": "x"}}},
            {"type": "send", "class": "transactional", "templates": {"email": {"subject": "receipt", "body": "x"}}}]})).await;
        let email = format!("ny-{:?}@example.com", store.backend);
        send(&store, &shop, json!({"batch": [
            identify("i", "ny", "2024-03-01T00:00:00Z", json!({"email": email, "timezone": "America/New_York", "email_marketing_consent": true})),
            order("o", "ny", "1", "2024-03-10T05:00:00Z"), // 00:00 EST
        ]})).await;
        let status = |key: &'static str| {
            let store = store.clone();
            let shop = shop.id;
            async move {
                let log = clv_serve::outbox::log(&store, shop, "ny").await.unwrap();
                let m = log.into_iter().find(|m| m.message_key == key).unwrap();
                (m.status, m.sent_at)
            }
        };
        tick(&store, utc("2024-03-10T05:00:00Z")).await;
        // Transactional goes at once; marketing waits for 08:00 EDT = 12:00 UTC (not 13:00, EST's).
        assert_eq!(
            status("now:o:1#1").await,
            ("sent".into(), Some(utc("2024-03-10T05:00:00Z")))
        );
        assert_eq!(status("now:o:1#0").await, ("pending".into(), None));
        tick(&store, utc("2024-03-10T11:59:59Z")).await;
        assert_eq!(status("now:o:1#0").await, ("pending".into(), None));
        tick(&store, utc("2024-03-10T12:00:00Z")).await;
        assert_eq!(
            status("now:o:1#0").await,
            ("sent".into(), Some(utc("2024-03-10T12:00:00Z")))
        );
        assert_eq!(
            sink.mails()
                .iter()
                .filter(|m| m.header("To") == Some(email.as_str()))
                .count(),
            2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_get_the_requests_their_apis_take_and_their_answers_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    for store in common::stores(dir.path(), "providers").await {
        let fake = common::providers().await;
        let shop = common::shop(&store, "providers", "UTC").await;
        for settings in [
            json!({"channel": "sms", "base_url": fake.base, "account_sid": common::TWILIO_SID, "auth_token": common::TWILIO_TOKEN, "from": "+15550001111"}),
            json!({"channel": "telegram", "base_url": fake.base, "bot_token": common::TELEGRAM_TOKEN}),
        ] {
            set_channel(&store, &shop, settings).await;
        }
        save_journey(&store, &shop, json!({"id": "reach", "name": "reach", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
            {"type": "send", "class": "marketing", "templates": {"telegram": {"body": "Hi {{ customer.id }}"}, "sms": {"body": "Order {{ order.id }}"}}, "channels": ["sms", "telegram"]}]})).await;
        send(&store, &shop, json!({"batch": [
            identify("i1", "phone", "2024-06-01T09:00:00Z", json!({"phone": "+15551234567", "sms_marketing_consent": true, "preferred_channel": "sms"})),
            identify("i2", "chat", "2024-06-01T09:00:00Z", json!({"telegram_chat_id": "4242", "telegram_marketing_consent": true, "preferred_channel": "telegram"})),
            identify("i3", "blocked", "2024-06-01T09:00:00Z", json!({"telegram_chat_id": "666", "telegram_marketing_consent": true})),
            order("o1", "phone", "1", "2024-06-03T12:00:00Z"),
            order("o2", "chat", "2", "2024-06-03T12:00:00Z"),
            order("o3", "blocked", "3", "2024-06-03T12:00:00Z"),
        ]})).await;
        let now = utc("2024-06-03T12:00:00Z");
        let before = fake.received.lock().unwrap().len();
        tick(&store, now).await;
        let state = |customer: &'static str| latest(&store, &shop, customer);
        // Twilio said 429, Retry-After 120: not before then, then sent with the same key.
        let sms = state("phone").await;
        assert_eq!((sms.status.as_str(), sms.attempts), ("pending", 1));
        assert!(
            sms.last_error.as_deref().unwrap().contains("429"),
            "{:?}",
            sms.last_error
        );
        tick(&store, now + 119).await;
        assert_eq!(state("phone").await.status, "pending");
        tick(&store, now + 120).await;
        let sms = state("phone").await;
        assert_eq!(
            (sms.status.as_str(), sms.channel.as_deref(), sms.attempts),
            ("sent", Some("sms"), 2)
        );
        let chat = state("chat").await;
        assert_eq!(
            (chat.status.as_str(), chat.channel.as_deref()),
            ("sent", Some("telegram"))
        );
        // Telegram's 403 (blocked): failed for good, consent revoked, the chat suppressed.
        let blocked = state("blocked").await;
        assert_eq!(
            (blocked.status.as_str(), blocked.reason.as_deref()),
            ("failed", Some("failed"))
        );
        let consent: (i64, String) = sqlx::query_as("SELECT granted, source FROM consents WHERE shop_id = $1 AND customer_id = 'blocked' AND channel = 'telegram' AND topic = 'marketing'")
            .bind(shop.id).fetch_one(&store.pool).await.unwrap();
        assert_eq!(consent, (0, "provider".to_string()));
        let received: Vec<common::Received> = fake.received.lock().unwrap()[before..].to_vec();
        for r in &received {
            assert!(
                r.problems.is_empty(),
                "{} {:?}: {}",
                r.path,
                r.problems,
                r.body
            );
        }
        let twilio: Vec<&common::Received> = received
            .iter()
            .filter(|r| r.path.contains("/Accounts/"))
            .collect();
        assert_eq!(twilio.len(), 2);
        assert_eq!(
            twilio[0].header("idempotency-key"),
            twilio[1].header("idempotency-key")
        );
        assert_eq!(
            twilio[1].body,
            "To=%2B15551234567&From=%2B15550001111&Body=Order+1"
        );
        let telegram: Vec<&common::Received> = received
            .iter()
            .filter(|r| r.path.contains("/bot"))
            .collect();
        assert_eq!(telegram.len(), 2);
        assert!(
            telegram
                .iter()
                .any(|r| r.body == r#"{"chat_id":"4242","text":"Hi chat"}"#),
            "{telegram:?}"
        );
        // A later message to the blocked chat is not even tried.
        send(
            &store,
            &shop,
            json!({"batch": [order("o4", "blocked", "4", "2024-06-05T12:00:00Z")]}),
        )
        .await;
        tick(&store, utc("2024-06-05T12:00:00Z")).await;
        let log = clv_serve::outbox::log(&store, shop.id, "blocked")
            .await
            .unwrap();
        assert_eq!(log[0].reason.as_deref(), Some("suppressed"));
        assert_eq!(fake.received.lock().unwrap().len(), before + 4);
    }
}

/// The chat apps: each fake checks the request its API takes; what a refusal means (stopped,
/// not available, unfollowed) revokes that channel's marketing consent; LINE deduplicates a
/// retry whose first answer was lost, by the retry key, and that counts as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_apps_get_their_api_shapes_and_their_refusals_revoke_consent() {
    let dir = tempfile::tempdir().unwrap();
    for store in common::stores(dir.path(), "chat_apps").await {
        let fake = common::providers().await;
        let shop = common::shop(&store, "chat", "UTC").await;
        let base = &fake.base;
        for settings in [
            json!({"channel": "whatsapp", "base_url": base, "phone_number_id": common::WHATSAPP_NUMBER_ID, "access_token": common::WHATSAPP_TOKEN, "template": "order_update", "language": "de"}),
            json!({"channel": "messenger", "base_url": base, "page_access_token": common::PAGE_TOKEN}),
            json!({"channel": "instagram", "base_url": base, "page_access_token": common::PAGE_TOKEN}),
            json!({"channel": "line", "base_url": base, "channel_access_token": common::LINE_TOKEN}),
            json!({"channel": "wechat", "base_url": base, "access_token": common::WECHAT_TOKEN}),
        ] {
            set_channel(&store, &shop, settings).await;
        }
        let body = json!({"body": "Hi {{ customer.id }}"});
        let templates: serde_json::Map<String, Value> =
            ["whatsapp", "messenger", "instagram", "line", "wechat"]
                .iter()
                .map(|c| (c.to_string(), body.clone()))
                .collect();
        save_journey(&store, &shop, json!({"id": "chat", "name": "chat", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
            {"type": "send", "class": "marketing", "templates": templates}]})).await;
        // Customer, channel, address trait and value, and what the send ends as.
        let people = [
            ("wa", "whatsapp", "whatsapp", "+4915112345678", "sent"),
            ("wa-out", "whatsapp", "phone", "+4915100000000", "failed"),
            ("fb", "messenger", "messenger_psid", "psid-1", "sent"),
            ("fb-gone", "messenger", "messenger_psid", "551", "failed"),
            ("ig", "instagram", "instagram_id", "ig-1", "sent"),
            ("ln", "line", "line_user_id", "Uabc", "sent"),
            ("ln-lost", "line", "line_user_id", "Ulost", "pending"),
            ("wx", "wechat", "wechat_openid", "o-1", "sent"),
            ("wx-gone", "wechat", "wechat_openid", "o-gone", "failed"),
        ];
        let mut batch = Vec::new();
        for (i, (customer, channel, field, address, _)) in people.iter().enumerate() {
            let mut traits = json!({"preferred_channel": channel});
            traits[*field] = json!(address);
            traits[format!("{channel}_marketing_consent")] = json!(true);
            batch.push(identify(
                &format!("i{i}"),
                customer,
                "2024-06-01T09:00:00Z",
                traits,
            ));
            batch.push(order(
                &format!("o{i}"),
                customer,
                &i.to_string(),
                "2024-06-03T12:00:00Z",
            ));
        }
        send(&store, &shop, json!({ "batch": batch })).await;
        let now = utc("2024-06-03T12:00:00Z");
        tick(&store, now).await;
        let state = |customer: &'static str| latest(&store, &shop, customer);
        for (customer, channel, _, _, status) in people {
            let logged = state(customer).await;
            // The log names the channel of a sent message; a refusal names it in the error.
            let sent = (status == "sent").then_some(channel);
            let tried = logged.last_error.as_deref().unwrap_or(channel);
            assert_eq!(
                (logged.status.as_str(), logged.channel.as_deref()),
                (status, sent),
                "{customer}: {logged:?}"
            );
            assert!(tried.starts_with(channel), "{customer}: {logged:?}");
            let consent: (i64, String) = sqlx::query_as("SELECT granted, source FROM consents WHERE shop_id = $1 AND customer_id = $2 AND channel = $3 AND topic = 'marketing'")
                .bind(shop.id).bind(customer).bind(channel).fetch_one(&store.pool).await.unwrap();
            let revoked = status == "failed";
            assert_eq!(
                consent,
                (
                    i64::from(!revoked),
                    if revoked { "provider" } else { "identify" }.to_string()
                ),
                "{customer}"
            );
        }
        // LINE's lost answer: retried after 30 s with the same retry key, which LINE refuses as
        // already accepted: sent, and not twice.
        tick(&store, now + 29).await;
        assert_eq!(state("ln-lost").await.status, "pending");
        tick(&store, now + 30).await;
        assert_eq!(
            (
                state("ln-lost").await.status.as_str(),
                state("ln-lost").await.attempts
            ),
            ("sent", 2)
        );
        let received = fake.received.lock().unwrap().clone();
        for r in &received {
            assert!(
                r.problems.is_empty(),
                "{} {:?}: {}",
                r.path,
                r.problems,
                r.body
            );
        }
        let bodies = |part: &str| -> Vec<Value> {
            (received.iter().filter(|r| r.path.contains(part)))
                .map(|r| serde_json::from_str(&r.body).unwrap())
                .collect()
        };
        assert!(bodies("/messages").contains(&json!({"messaging_product": "whatsapp", "to": "+4915112345678", "type": "template",
            "template": {"name": "order_update", "language": {"code": "de"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Hi wa"}]}]}})));
        assert!(bodies("/me/messages").contains(&json!({"recipient": {"id": "psid-1"}, "message": {"text": "Hi fb"}, "messaging_type": "UPDATE"})));
        assert!(bodies("/me/messages").contains(&json!({"recipient": {"id": "ig-1"}, "message": {"text": "Hi ig"}, "messaging_type": "RESPONSE"})));
        assert!(bodies("/push")
            .contains(&json!({"to": "Uabc", "messages": [{"type": "text", "text": "Hi ln"}]})));
        assert!(bodies("/custom/send")
            .contains(&json!({"touser": "o-1", "msgtype": "text", "text": {"content": "Hi wx"}})));
        let lost: Vec<&common::Received> = (received.iter())
            .filter(|r| r.body.contains("Ulost"))
            .collect();
        assert_eq!(lost.len(), 2);
        assert_eq!(
            lost[0].header("x-line-retry-key"),
            lost[1].header("x-line-retry-key")
        );
        assert_eq!(received.len(), people.len() + 1);
    }
}

/// A request over real HTTP on a blocking thread: method, URL, headers and body; the status
/// and the answer's text.
async fn http(
    method: &str,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: String,
) -> (u16, String) {
    let method = method.to_string();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        for (k, v) in &headers {
            request = request.header(*k, v);
        }
        let mut answer = agent.run(request.body(body).unwrap()).unwrap();
        (
            answer.status().as_u16(),
            answer.body_mut().read_to_string().unwrap_or_default(),
        )
    })
    .await
    .unwrap()
}

/// Twilio's status callbacks and WhatsApp's statuses, over HTTP to the service: refused
/// without the right signature, applied to the message the provider id names, once, and never
/// backwards (a replay or a late `sent` after `delivered` moves nothing); Meta's handshake
/// echoes its challenge only with the channel's verify token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_webhooks_are_signed_applied_once_and_never_backwards() {
    let dir = tempfile::tempdir().unwrap();
    for store in common::stores(dir.path(), "delivery_hooks").await {
        let fake = common::providers().await;
        let shop = common::shop(&store, "hooks", "UTC").await;
        for settings in [
            json!({"channel": "sms", "base_url": fake.base, "account_sid": common::TWILIO_SID, "auth_token": common::TWILIO_TOKEN, "from": "+15550001111"}),
            json!({"channel": "whatsapp", "base_url": fake.base, "phone_number_id": common::WHATSAPP_NUMBER_ID, "access_token": common::WHATSAPP_TOKEN, "template": "order_update", "app_secret": "app-secret", "verify_token": "vt"}),
        ] {
            set_channel(&store, &shop, settings).await;
        }
        save_journey(&store, &shop, json!({"id": "update", "name": "update", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
            {"type": "send", "class": "transactional", "templates": {"sms": {"body": "Order {{ order.id }}"}, "whatsapp": {"body": "Order {{ order.id }}"}}}]})).await;
        send(&store, &shop, json!({"batch": [
            identify("i1", "texter", "2024-06-01T09:00:00Z", json!({"phone": "+447700900123", "preferred_channel": "sms"})),
            identify("i2", "chatter", "2024-06-01T09:00:00Z", json!({"whatsapp": "+4915112345678", "preferred_channel": "whatsapp"})),
            order("o1", "texter", "1", "2024-06-03T12:00:00Z"),
            order("o2", "chatter", "2", "2024-06-03T12:00:00Z"),
        ]})).await;
        tick(&store, utc("2024-06-03T12:00:00Z")).await;
        let provider_id = |customer: &'static str| {
            let store = store.clone();
            async move {
                let (id,): (Option<String>,) =
                    sqlx::query_as("SELECT provider_id FROM outbox WHERE customer_id = $1")
                        .bind(customer)
                        .fetch_one(&store.pool)
                        .await
                        .unwrap();
                id.unwrap()
            }
        };
        let (sid, wamid) = (provider_id("texter").await, provider_id("chatter").await);
        assert_eq!(wamid, "wamid.1");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut state = clv_serve::api::AppState::new(store.clone(), 1, f64::INFINITY);
        state.public_url = Some(base.clone());
        let app = clv_serve::api::router(state);
        tokio::spawn(async move { axum::serve(listener, app).await });

        let twilio_url = format!("{base}/webhooks/twilio/{}", shop.id);
        let twilio = |status: &str, token: &str| {
            let form = vec![
                ("MessageSid".to_string(), sid.clone()),
                ("MessageStatus".to_string(), status.to_string()),
                ("AccountSid".to_string(), common::TWILIO_SID.to_string()),
            ];
            let signature = clv_serve::delivery::twilio_signature(token, &twilio_url, &form);
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&form)
                .finish();
            let headers = vec![
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
                ("x-twilio-signature", signature),
            ];
            http("POST", twilio_url.clone(), headers, body)
        };
        assert_eq!(twilio("delivered", "not-the-token").await.0, 401);
        assert_eq!(
            twilio("delivered", common::TWILIO_TOKEN).await,
            (200, r#"{"applied":1}"#.to_string())
        );
        assert_eq!(
            twilio("delivered", common::TWILIO_TOKEN).await.1,
            r#"{"applied":0}"#
        );
        assert_eq!(
            twilio("sent", common::TWILIO_TOKEN).await.1,
            r#"{"applied":0}"#
        );
        let texted = clv_serve::outbox::log(&store, shop.id, "texter")
            .await
            .unwrap()
            .remove(0);
        assert_eq!(texted.delivery.as_deref(), Some("delivered"));
        assert!(texted.delivered_at.is_some());

        let hook = format!("{base}/webhooks/whatsapp/{}", shop.id);
        let handshake = |token: &str| {
            http(
                "GET",
                format!(
                    "{hook}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
                ),
                vec![],
                String::new(),
            )
        };
        assert_eq!(handshake("vt").await, (200, "1158201444".to_string()));
        assert_eq!(handshake("guess").await.0, 403);
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"statuses": [
            {"id": wamid, "status": "delivered", "timestamp": "1717416100", "recipient_id": "4915112345678"},
            {"id": wamid, "status": "read", "timestamp": "1717416200", "recipient_id": "4915112345678"}]}}]}]})
        .to_string();
        let signed = |secret: &str| {
            use hmac::{KeyInit, Mac};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            vec![
                ("content-type", "application/json".to_string()),
                (
                    "x-hub-signature-256",
                    format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
                ),
            ]
        };
        assert_eq!(
            http("POST", hook.clone(), signed("wrong"), body.clone())
                .await
                .0,
            401
        );
        assert_eq!(
            http("POST", hook.clone(), vec![], body.clone()).await.0,
            401
        );
        assert_eq!(
            http("POST", hook.clone(), signed("app-secret"), body.clone()).await,
            (200, r#"{"applied":2}"#.to_string())
        );
        assert_eq!(
            http("POST", hook.clone(), signed("app-secret"), body.clone())
                .await
                .1,
            r#"{"applied":0}"#
        );
        let chatted = clv_serve::outbox::log(&store, shop.id, "chatter")
            .await
            .unwrap()
            .remove(0);
        assert_eq!(chatted.delivery.as_deref(), Some("read"));
        // The texter's message is the sms channel's: WhatsApp's statuses cannot touch it.
        assert_eq!(
            clv_serve::outbox::log(&store, shop.id, "texter")
                .await
                .unwrap()[0]
                .delivery
                .as_deref(),
            Some("delivered")
        );
    }
}

/// Email over STARTTLS and implicit TLS to aiosmtpd with the test CA's certificate
/// (tests/data/tls): delivered when the relay's certificate is trusted, refused when it is not,
/// and a relay without the encryption asked for is never sent to in plain text.
#[tokio::test]
async fn email_goes_over_starttls_and_implicit_tls_to_a_relay_with_a_private_ca() {
    use clv_serve::channels::{Failure, Outgoing, Senders, Settings};
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    let (cert, key, ca) = (
        format!("{tls}/relay.pem"),
        format!("{tls}/relay.key"),
        format!("{tls}/ca.pem"),
    );
    /// A transactional email to Ann under outbox key `key`, subject "Message {i}".
    fn email(key: &str, i: usize) -> Outgoing {
        Outgoing {
            key: key.into(),
            message_id: format!("<{key}@clv.test>"),
            customer: "c1".into(),
            to: "ann@example.com".into(),
            subject: Some(format!("Message {i}")),
            body: format!("Hello {i}"),
            unsubscribe: None,
            marketing: false,
        }
    }
    let starttls = ["--tlscert", &cert, "--tlskey", &key];
    let implicit = ["--smtpscert", &cert, "--smtpskey", &key];
    // One sender for every case: connections are kept and reused between messages.
    let senders = Senders::new();
    let mut sent = 0;
    /// A sink's options, the smtp_url after `scheme://localhost:port`, and what becomes of
    /// three messages: delivered, or the failure each one gets (its text contains `expect`).
    async fn check(
        senders: &Senders,
        sent: &mut usize,
        options: &[&str],
        scheme: &str,
        query: &str,
        expect: Result<(), (bool, &str)>,
    ) {
        let sink = Sink::start_with(options);
        let settings = Settings::Email {
            smtp_url: format!("{scheme}://localhost:{}{query}", sink.port),
            from: "Shop <shop@example.com>".into(),
        };
        settings.check().unwrap();
        for i in 0..3 {
            *sent += 1;
            let message = email(&format!("tls-{sent}"), i);
            let result = senders.send(&settings, &message).await;
            match (&result, expect) {
                (Ok(_), Ok(())) => {}
                (Err(Failure::Retry { error, .. }), Err((false, part)))
                | (Err(Failure::Permanent { error, .. }), Err((true, part)))
                    if error.contains(part) => {}
                _ => panic!("{scheme}{query} {options:?}: {result:?}, expected {expect:?}"),
            }
        }
        let subjects: Vec<String> = sink
            .mails()
            .iter()
            .map(|m| m.header("Subject").unwrap_or_default().to_string())
            .collect();
        let want = if expect.is_ok() { 3 } else { 0 };
        assert_eq!(subjects.len(), want, "{scheme}{query}: {subjects:?}");
    }
    let with_ca = format!("?tls=required&ca={ca}");
    check(&senders, &mut sent, &starttls, "smtp", &with_ca, Ok(())).await;
    check(
        &senders,
        &mut sent,
        &implicit,
        "smtps",
        &format!("?ca={ca}"),
        Ok(()),
    )
    .await;
    // Not trusted without the CA: a retry (the relay's certificate may be fixed), nothing sent.
    let untrusted = Err((false, "UnknownIssuer"));
    check(
        &senders,
        &mut sent,
        &starttls,
        "smtp",
        "?tls=required",
        untrusted,
    )
    .await;
    check(&senders, &mut sent, &implicit, "smtps", "", untrusted).await;
    // tls=required against a relay without STARTTLS: refused before any mail command.
    let plain_only = Err((false, "does not offer STARTTLS"));
    check(&senders, &mut sent, &[], "smtp", &with_ca, plain_only).await;
    // Plain text to a relay that requires STARTTLS: the relay's own refusal (530).
    check(
        &senders,
        &mut sent,
        &starttls,
        "smtp",
        "",
        Err((true, "STARTTLS")),
    )
    .await;
    // A kept connection the relay dropped (restarted) right after a message: the next message
    // goes on a new connection, once.
    let mut sink = Sink::start();
    let settings = Settings::Email {
        smtp_url: sink.url(),
        from: "Shop <shop@example.com>".into(),
    };
    for i in 0..2 {
        let message = email(&format!("restart-{i}"), i);
        senders.send(&settings, &message).await.unwrap();
        sink.restart();
    }
    assert_eq!(sink.mails().len(), 2);
    // A relay that accepts and never greets: a retry after the timeout, not a stuck worker.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let envelope = lettre::address::Envelope::new(
        Some("shop@example.com".parse().unwrap()),
        vec!["ann@example.com".parse().unwrap()],
    )
    .unwrap();
    let pool = clv_serve::smtp::Pool::default();
    let wait = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let failed = pool
        .send(&url, &envelope, b"Subject: x\r\n\r\nx\r\n", wait)
        .await;
    let failed = failed.unwrap_err();
    assert!(
        !failed.permanent && failed.error.contains("no session within"),
        "{failed:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(silent);
}
