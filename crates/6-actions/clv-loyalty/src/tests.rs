//! Hand-worked examples and a property test that drives random histories against a naive
//! recomputation from the facts.

// Money is written dollars_cents (150_00 is $150.00).
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use proptest::prelude::*;

const NEW_YORK: chrono_tz::Tz = chrono_tz::America::New_York;

fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("a test time")
        .timestamp()
}

fn program() -> Program {
    Program {
        points_per_unit: 1,
        min_order_minor: 0,
        pending_days: 30,
        expiry_months: None,
        expiry_since: None,
        tier_basis: TierBasis::Points,
        tiers: vec![],
        tier_window: TierWindow::Rolling12Months,
        rewards: vec![Reward {
            id: "ten-off".into(),
            name: "$10 off".into(),
            kind: RewardKind::FixedDiscount,
            points: 100,
            value: 1000,
        }],
        referrals: None,
    }
}

fn order(id: &str, placed_at: i64, total_minor: i64) -> OrderFacts {
    OrderFacts {
        order_id: id.into(),
        placed_at,
        total_minor,
        version_at: placed_at,
        cancelled_at: None,
        refunds: vec![],
    }
}

fn refund(id: &str, at: i64, amount_minor: i64) -> RefundFact {
    RefundFact {
        refund_id: id.into(),
        at,
        amount_minor,
    }
}

/// Sync `order` into `ledger` as the store does (rows whose key exists are not written again);
/// returns the rows written.
fn sync(program: &Program, ledger: &mut Vec<Entry>, order: &OrderFacts) -> Vec<Entry> {
    let written: Vec<Entry> = (ledger.iter())
        .filter(|e| e.order_id.as_deref() == Some(&order.order_id))
        .cloned()
        .collect();
    let new = order_effects(program, 2, order, &written);
    for e in &new {
        assert!(
            !ledger.iter().any(|w| w.key == e.key),
            "{} written twice",
            e.key
        );
    }
    ledger.extend(new.clone());
    new
}

/// Each step's facts, synced, give rows of these (kind, points); then a replay writes nothing.
fn check(steps: &[OrderFacts], expect: &[&[(Kind, i64)]]) {
    let (p, mut ledger) = (program(), Vec::new());
    for (facts, want) in steps.iter().zip(expect) {
        let got: Vec<(Kind, i64)> = (sync(&p, &mut ledger, facts).iter())
            .map(|e| (e.kind, e.points))
            .collect();
        assert_eq!(got, *want, "after {facts:?}");
        assert!(
            sync(&p, &mut ledger, facts).is_empty(),
            "a replay wrote rows"
        );
    }
}

#[test]
fn refunds_and_cancellations_take_back_the_share_at_the_earn_rate() {
    let t = utc("2025-03-01T12:00:00Z");
    let placed = order("A", t, 100_00);
    let with = |refunds: Vec<RefundFact>| OrderFacts {
        refunds,
        ..placed.clone()
    };
    // Three partial refunds of $100.00: 30%, 30%, then the rest; each takes its share.
    let r1 = refund("r1", t + DAY, 30_00);
    let r2 = refund("r2", t + 2 * DAY, 30_00);
    let r3 = refund("r3", t + 3 * DAY, 40_00);
    check(
        &[
            placed.clone(),
            with(vec![r1.clone()]),
            with(vec![r1.clone(), r2.clone()]),
            with(vec![r1.clone(), r2.clone(), r3.clone()]),
        ],
        &[
            &[(Kind::Earn, 100)],
            &[(Kind::Reverse, -30)],
            &[(Kind::Reverse, -30)],
            &[(Kind::Reverse, -40)],
        ],
    );
    // The same refunds arriving last-first: the same total taken back, never more than earned.
    check(
        &[
            with(vec![r3.clone()]),
            with(vec![r3.clone(), r1.clone(), r2.clone()]),
        ],
        &[
            &[(Kind::Earn, 100), (Kind::Reverse, -40)],
            &[(Kind::Reverse, -30), (Kind::Reverse, -30)],
        ],
    );
    // $33.33 of $99.99 is a third of 99 points: 33 (rounded down, in the customer's favour).
    check(
        &[OrderFacts {
            refunds: vec![refund("r", t + DAY, 33_33)],
            ..order("B", t, 99_99)
        }],
        &[&[(Kind::Earn, 99), (Kind::Reverse, -33)]],
    );
    // A cancellation after a refund takes back the rest; a refund after it takes nothing.
    let cancelled = OrderFacts {
        cancelled_at: Some(t + 2 * DAY),
        ..with(vec![r1.clone()])
    };
    check(
        &[
            with(vec![r1.clone()]),
            cancelled.clone(),
            OrderFacts {
                refunds: vec![r1.clone(), r2.clone()],
                ..cancelled.clone()
            },
        ],
        &[
            &[(Kind::Earn, 100), (Kind::Reverse, -30)],
            &[(Kind::Cancel, -70)],
            &[],
        ],
    );
    // An order cancelled before it was seen earns nothing.
    check(
        &[OrderFacts {
            cancelled_at: Some(t),
            ..placed.clone()
        }],
        &[&[]],
    );
    // A later snapshot with another total re-prices, at the rate earned.
    let mut p2 = placed.clone();
    (p2.total_minor, p2.version_at) = (120_00, t + 60);
    check(
        &[placed.clone(), p2],
        &[&[(Kind::Earn, 100)], &[(Kind::Reprice, 20)]],
    );
}

#[test]
fn points_are_pending_then_spendable_and_spent_points_refunded_leave_a_debt() {
    let (p, mut ledger) = (program(), Vec::new());
    let t = utc("2025-03-01T12:00:00Z");
    let placed = order("A", t, 150_00);
    sync(&p, &mut ledger, &placed);
    let b = balance(&ledger, t + DAY);
    assert_eq!((b.available, b.pending), (0, 150));
    assert!(matches!(
        redeem(&p, &ledger, "ten-off", "k1", t + DAY),
        Err(LoyaltyError::NotEnough {
            needed: 100,
            available: 0
        })
    ));
    let later = t + 31 * DAY;
    assert_eq!(balance(&ledger, later).available, 150);
    ledger.push(redeem(&p, &ledger, "ten-off", "k1", later).expect("affordable"));
    assert_eq!(balance(&ledger, later).available, 50);
    // The whole order refunded after 100 of its points were spent: the balance owes 100.
    let refunded = OrderFacts {
        refunds: vec![refund("r", later + 60, 150_00)],
        ..placed
    };
    sync(&p, &mut ledger, &refunded);
    let b = balance(&ledger, later + 120);
    assert_eq!((b.available, b.earned, b.redeemed), (-100, 0, 100));
    assert!(redeem(&p, &ledger, "ten-off", "k2", later + 120).is_err());
}

#[test]
fn lots_expire_at_the_end_of_the_month_in_the_shops_zone_across_daylight_saving() {
    let mut p = program();
    p.pending_days = 0;
    (p.expiry_months, p.expiry_since) = (Some(1), Some(utc("2025-01-01T00:00:00Z")));
    // Earned on 10 February (EST, UTC-5): it expires at the end of March, midnight New York
    // time, which is EDT (UTC-4) after the change of 9 March.
    let a = utc("2025-02-10T15:00:00Z");
    assert_eq!(
        expires_at(&p, NEW_YORK, a),
        Some(utc("2025-04-01T04:00:00Z"))
    );
    // Earned at 23:30 on 31 January in New York (04:30 UTC on 1 February): a January lot.
    let late = utc("2025-02-01T04:30:00Z");
    assert_eq!(
        expires_at(&p, NEW_YORK, late),
        Some(utc("2025-03-01T05:00:00Z"))
    );
    // Switching expiry on never expires history at once: a 2020 lot counts from the switch.
    let mut q = p.clone();
    (q.expiry_months, q.expiry_since) = (Some(12), Some(utc("2025-06-15T12:00:00Z")));
    assert_eq!(
        expires_at(&q, NEW_YORK, utc("2020-01-05T12:00:00Z")),
        Some(utc("2026-07-01T04:00:00Z"))
    );

    // Two lots of 100 and 80; 150 spent draws the older first, so 30 of the second is left...
    let mut ledger = Vec::new();
    sync(&p, &mut ledger, &order("A", a, 100_00));
    sync(
        &p,
        &mut ledger,
        &order("B", utc("2025-03-20T15:00:00Z"), 80_00),
    );
    p.rewards[0].points = 150;
    let spend = utc("2025-03-25T15:00:00Z");
    ledger.push(redeem(&p, &ledger, "ten-off", "k", spend).expect("180 available"));
    assert_eq!(
        expiring(&p, NEW_YORK, &ledger, spend, spend + 40 * DAY),
        vec![("earn:B".to_string(), 30, utc("2025-05-01T04:00:00Z"))]
    );
    // ...and nothing of A expires on 1 April; on 1 May the 30 left of B do, once.
    assert!(expiries(&p, NEW_YORK, &ledger, utc("2025-04-30T12:00:00Z")).is_empty());
    let due = expiries(&p, NEW_YORK, &ledger, utc("2025-05-01T04:00:00Z"));
    let got: Vec<(&str, i64, i64)> = due
        .iter()
        .map(|e| (e.key.as_str(), e.points, e.at))
        .collect();
    assert_eq!(
        got,
        vec![("expire:earn:B", -30, utc("2025-05-01T04:00:00Z"))]
    );
    ledger.extend(due);
    assert!(expiries(&p, NEW_YORK, &ledger, utc("2026-01-01T00:00:00Z")).is_empty());
    assert_eq!(balance(&ledger, utc("2026-01-01T00:00:00Z")).available, 0);
}

#[test]
fn a_sweep_then_a_redemption_in_the_same_second_expire_nothing_twice() {
    // Found by the property test in CI: a lot of 1 point expired by a sweep, then 100 points
    // redeemed in the same second from the next lot; its later expiry must leave 0, not -1.
    let mut p = program();
    p.pending_days = 0;
    (p.expiry_months, p.expiry_since) = (Some(1), Some(utc("2025-01-01T00:00:00Z")));
    let mut ledger = Vec::new();
    sync(
        &p,
        &mut ledger,
        &order("small", utc("2025-01-10T15:00:00Z"), 1_00),
    );
    sync(
        &p,
        &mut ledger,
        &order("big", utc("2025-02-10T15:00:00Z"), 100_00),
    );
    let t = utc("2025-03-01T12:00:00Z");
    let due = expiries(&p, NEW_YORK, &ledger, t);
    assert_eq!(due.iter().map(|e| e.points).collect::<Vec<_>>(), vec![-1]);
    ledger.extend(due);
    ledger.push(redeem(&p, &ledger, "ten-off", "k", t).expect("100 left"));
    let later = utc("2025-04-02T12:00:00Z");
    let due = expiries(&p, NEW_YORK, &ledger, later);
    assert!(due.is_empty(), "{due:?}");
    assert_eq!(balance(&ledger, later).available, 0);
}

#[test]
fn a_refund_demotes_a_customer_in_a_three_tier_program() {
    let mut p = program();
    p.tiers = ["bronze:0", "silver:500", "gold:1000"]
        .map(|t| {
            let (name, min) = t.split_once(':').expect("name:min");
            Tier {
                name: name.into(),
                min_points: min.parse().expect("a number"),
                min_clv: None,
            }
        })
        .to_vec();
    let mut ledger = Vec::new();
    // A year of orders: $300 in January, $400 in May, $350 in September.
    let orders = [
        order("jan", utc("2025-01-15T12:00:00Z"), 300_00),
        order("may", utc("2025-05-15T12:00:00Z"), 400_00),
        order("sep", utc("2025-09-15T12:00:00Z"), 350_00),
    ];
    let name = |ledger: &[Entry], at: &str| tier(&p, ledger, utc(at), None).map(|t| t.name.clone());
    sync(&p, &mut ledger, &orders[0]);
    assert_eq!(
        name(&ledger, "2025-02-01T00:00:00Z").as_deref(),
        Some("bronze")
    );
    sync(&p, &mut ledger, &orders[1]);
    assert_eq!(
        name(&ledger, "2025-06-01T00:00:00Z").as_deref(),
        Some("silver")
    );
    sync(&p, &mut ledger, &orders[2]);
    assert_eq!(
        name(&ledger, "2025-10-01T00:00:00Z").as_deref(),
        Some("gold")
    );
    // Half of May's order refunded in October: 1,050 - 200 = 850 points, back to silver.
    let refunded = OrderFacts {
        refunds: vec![refund("r", utc("2025-10-10T12:00:00Z"), 200_00)],
        ..orders[1].clone()
    };
    sync(&p, &mut ledger, &refunded);
    assert_eq!(
        name(&ledger, "2025-10-11T00:00:00Z").as_deref(),
        Some("silver")
    );
    // January's points leave the rolling window in January 2026: 550, still silver; May's in May.
    assert_eq!(tier_points(&p, &ledger, utc("2026-01-20T00:00:00Z")), 550);
    assert_eq!(
        name(&ledger, "2026-05-20T00:00:00Z").as_deref(),
        Some("bronze")
    );
}

/// Tiers by predicted CLV, `member` from 0, `vip` from 200: each (predicted CLV, points-only
/// ledger) gives `expect`; the points a customer earned do not matter.
#[test]
fn tiers_by_predicted_clv_follow_the_prediction_not_the_points() {
    let mut p = program();
    p.tier_basis = TierBasis::PredictedClv;
    let tier_of = |name: &str, min: f64| Tier {
        name: name.into(),
        min_points: 0,
        min_clv: Some(min),
    };
    p.tiers = vec![tier_of("member", 0.0), tier_of("vip", 200.0)];
    p.check().unwrap();
    let mut rich = Vec::new();
    sync(
        &p,
        &mut rich,
        &order("big", utc("2025-01-15T12:00:00Z"), 5_000_00),
    );
    let now = utc("2025-03-01T00:00:00Z");
    let check = |clv: Option<f64>, ledger: &[Entry], expect: Option<&str>| {
        assert_eq!(
            tier(&p, ledger, now, clv).map(|t| t.name.as_str()),
            expect,
            "{clv:?}"
        );
    };
    check(Some(250.0), &[], Some("vip"));
    check(Some(200.0), &[], Some("vip"));
    check(Some(199.99), &rich, Some("member"));
    check(None, &rich, Some("member"));
    check(Some(f64::NAN), &[], Some("member"));
    p.tiers[0].min_clv = Some(10.0);
    assert_eq!(tier(&p, &[], now, Some(5.0)), None);
    // What cannot hold is refused when saved.
    p.tiers[1].min_clv = None;
    let Err(LoyaltyError::Program(why)) = p.check() else {
        panic!("accepted")
    };
    assert!(why.contains("tier `vip` needs min_clv"), "{why}");
    p.tiers[1].min_clv = Some(5.0);
    let Err(LoyaltyError::Program(why)) = p.check() else {
        panic!("accepted")
    };
    assert!(
        why.contains("tier `vip` must need a higher predicted CLV than `member`"),
        "{why}"
    );
    p.tier_basis = TierBasis::Points;
    let Err(LoyaltyError::Program(why)) = p.check() else {
        panic!("accepted")
    };
    assert!(why.contains("min_clv is for"), "{why}");
}

/// The liability by hand: 1,200 points kept from orders, 300 redeemed, 100 expired, 50 still
/// pending; the best cash reward is 1,000 cents for 100 points (10 cents a point; store credit
/// at 500 for 100 is worse).
#[test]
fn the_liability_is_the_outstanding_points_at_the_best_cash_rate() {
    let mut p = program();
    let reward = |id: &str, kind: RewardKind, points: i64, value: i64| Reward {
        id: id.into(),
        name: id.into(),
        kind,
        points,
        value,
    };
    p.rewards = vec![
        reward("ten-off", RewardKind::FixedDiscount, 100, 1000),
        reward("credit", RewardKind::StoreCredit, 100, 500),
        reward("ship", RewardKind::FreeShipping, 50, 0),
    ];
    let mut totals = Balance::default();
    totals.add(Kind::Earn, 1_150, true);
    totals.add(Kind::Earn, 50, false);
    totals.add(Kind::Redeem, -300, true);
    totals.add(Kind::Expire, -100, true);
    let issued = [
        p.rewards[0].clone(),
        p.rewards[0].clone(),
        p.rewards[2].clone(),
    ];
    let l = liability(&p, &totals, &issued);
    assert_eq!(l.outstanding_points, 1_200 - 300 - 100);
    assert_eq!(
        (l.point_value_minor, l.outstanding_value_minor),
        (Some(10.0), Some(8_000))
    );
    assert_eq!(l.breakage, Some(100.0 / 1_200.0));
    assert_eq!(
        (l.rewards_issued, l.cash_rewards_minor, l.other_rewards),
        (3, 2_000, 1)
    );
    p.rewards.retain(|r| r.kind == RewardKind::FreeShipping);
    let l = liability(&p, &Balance::default(), &[]);
    assert_eq!(
        (l.point_value_minor, l.outstanding_value_minor, l.breakage),
        (None, None, None)
    );
}

#[test]
fn programs_are_checked_when_saved() {
    let mut p = program();
    p.tiers = vec![
        Tier {
            name: "a".into(),
            min_points: 10,
            min_clv: None,
        },
        Tier {
            name: "b".into(),
            min_points: 10,
            min_clv: None,
        },
    ];
    p.expiry_months = Some(0);
    let Err(LoyaltyError::Program(why)) = p.check() else {
        panic!("accepted");
    };
    assert!(
        why.contains("tier `b` must need more points than `a`"),
        "{why}"
    );
    assert!(why.contains("expiry_months must be 1 to 1200"), "{why}");
    assert!(why.contains("go together"), "{why}");
    assert!(program().check().is_ok());
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Order(i64),
    Refund(usize, i64),
    Cancel(usize),
    Redeem,
    Wait(i64),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..40_000).prop_map(Op::Order),
        (0usize..8, 1i64..30_000).prop_map(|(o, a)| Op::Refund(o, a)),
        (0usize..8).prop_map(Op::Cancel),
        Just(Op::Redeem),
        (1i64..60).prop_map(Op::Wait),
        Just(Op::Sweep),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_histories_keep_the_ledger_whole(ops in proptest::collection::vec(op(), 1..60)) {
        let mut p = program();
        p.pending_days = 14;
        (p.expiry_months, p.expiry_since) = (Some(2), Some(utc("2025-02-01T00:00:00Z")));
        p.tiers = vec![
            Tier { name: "member".into(), min_points: 0, min_clv: None },
            Tier { name: "vip".into(), min_points: 400, min_clv: None },
        ];
        let mut now = utc("2025-01-01T17:00:00Z");
        let (mut orders, mut ledger) = (Vec::<OrderFacts>::new(), Vec::<Entry>::new());
        let mut refund_ids = 0;
        for op in ops {
            match op {
                Op::Order(total) => orders.push(order(&format!("o{}", orders.len()), now, total)),
                Op::Refund(i, amount) if i < orders.len() => {
                    refund_ids += 1;
                    orders[i].refunds.push(refund(&format!("r{refund_ids}"), now, amount));
                }
                Op::Cancel(i) if i < orders.len() && orders[i].cancelled_at.is_none() => {
                    orders[i].cancelled_at = Some(now);
                }
                Op::Redeem => {
                    let key = format!("k{}", ledger.len());
                    if let Ok(e) = redeem(&p, &ledger, "ten-off", &key, now) {
                        ledger.push(e);
                    }
                }
                Op::Wait(days) => now += days * DAY,
                Op::Sweep => {
                    let due = expiries(&p, NEW_YORK, &ledger, now);
                    ledger.extend(due);
                    prop_assert!(expiries(&p, NEW_YORK, &ledger, now).is_empty(), "a sweep twice");
                }
                _ => {}
            }
            // Every order synced, then replayed: the replay writes nothing.
            for o in &orders {
                sync(&p, &mut ledger, o);
                prop_assert!(sync(&p, &mut ledger, o).is_empty());
            }
            let keys: HashSet<&str> = ledger.iter().map(|e| e.key.as_str()).collect();
            prop_assert_eq!(keys.len(), ledger.len());
            // Each order, from its facts alone: what it earned and what was taken back.
            let (mut kept_available, mut vip_points) = (0, 0);
            for o in &orders {
                let rows: Vec<&Entry> = ledger.iter().filter(|e| e.order_id.as_deref() == Some(&o.order_id)).collect();
                let Some(earn) = rows.iter().find(|e| e.kind == Kind::Earn) else {
                    prop_assert!(rows.is_empty());
                    continue;
                };
                let gross = o.total_minor / 100;
                prop_assert_eq!(earn.points, gross);
                let refunded: i64 = o.refunds.iter().map(|r| r.amount_minor).sum();
                let taken: i64 = -rows.iter().filter(|e| matches!(e.kind, Kind::Reverse | Kind::Cancel)).map(|e| e.points).sum::<i64>();
                let due = if o.cancelled_at.is_some() || refunded >= o.total_minor {
                    gross
                } else {
                    gross * refunded / o.total_minor
                };
                prop_assert_eq!(taken, due, "order {:?}", o);
                prop_assert!(taken <= gross);
                if o.placed_at + 14 * DAY <= now {
                    kept_available += gross - taken;
                }
                if o.placed_at > now - 365 * DAY {
                    vip_points += gross - taken;
                }
            }
            let b = balance(&ledger, now);
            let spent: i64 = ledger.iter().filter(|e| matches!(e.kind, Kind::Redeem | Kind::Expire)).map(|e| -e.points).sum();
            prop_assert_eq!(b.available, kept_available - spent);
            prop_assert_eq!(b.available + b.pending, ledger.iter().map(|e| e.points).sum::<i64>());
            // Only a refund of spent points makes a debt, and never more than what was taken back.
            let taken_back: i64 = -ledger.iter().filter(|e| matches!(e.kind, Kind::Reverse | Kind::Cancel)).map(|e| e.points).sum::<i64>();
            prop_assert!(b.available >= -taken_back);
            // Nothing expires before expiry was on for its months.
            let earliest = expires_at(&p, NEW_YORK, p.expiry_since.unwrap_or_default()).unwrap_or_default();
            prop_assert!(ledger.iter().filter(|e| e.kind == Kind::Expire).all(|e| e.at >= earliest && e.points < 0));
            let want = if vip_points >= 400 { "vip" } else { "member" };
            prop_assert_eq!(tier(&p, &ledger, now, None).map(|t| t.name.as_str()), Some(want));
        }
    }
}

mod referrals {
    use super::*;
    use crate::referral::{screen, settle, Claim, FirstOrder, Person, Refusal, Settlement};

    /// The seed's program: $10 to the referrer and $10 to the new customer. "$10 off" costs 100
    /// points, so each side gets 100; the referee's first order must keep $25 after refunds.
    fn ten_and_ten() -> (Program, Referrals) {
        let terms = Referrals {
            referrer_points: 100,
            referee_points: 100,
            min_order_minor: 25_00,
            max_per_source: 2,
            source_window_days: 30,
        };
        let program = Program {
            referrals: Some(terms.clone()),
            ..program()
        };
        program.check().unwrap();
        (program, terms)
    }

    fn person(id: &str, email: &str, address: &str, card: &str) -> Person {
        let known = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Person {
            customer_id: id.into(),
            email: known(email),
            address: known(address),
            payment_fingerprint: known(card),
        }
    }

    /// Ann refers `referee`, with `before` orders and `recent` claims from the same source.
    fn check(referee: Person, before: u64, recent: u32, expect: Result<(), Refusal>) {
        let ann = person(
            "ann",
            "Ann.Lee@mail.example",
            "12 Oak St, Springfield",
            "fp-ann",
        );
        let claim = Claim {
            referrer: ann,
            referee,
            referee_orders_before: before,
            recent_from_source: recent,
        };
        assert_eq!(screen(&ten_and_ten().1, &claim), expect, "{claim:?}");
    }

    #[test]
    fn each_fraud_check_refuses_its_case_and_a_genuine_claim_stands() {
        let own = |what: &str| Err(Refusal::SelfReferral(what.into()));
        // (referee: id, email, address, card), orders before the claim, claims from its source.
        let cases = [
            (
                ("bob", "bob@mail.example", "9 Elm Rd", "fp-bob"),
                0,
                0,
                Ok(()),
            ),
            (
                ("ann", "other@mail.example", "", ""),
                0,
                0,
                own("customer id"),
            ),
            (
                ("ann2", "annlee+promo@MAIL.example", "", ""),
                0,
                0,
                own("email"),
            ),
            (
                ("ann3", "", "12 oak st. springfield", ""),
                0,
                0,
                own("address"),
            ),
            (("ann4", "", "", "fp-ann"), 0, 0, own("payment fingerprint")),
            (
                ("cat", "cat@mail.example", "", ""),
                2,
                0,
                Err(Refusal::AlreadyCustomer(2)),
            ),
            (
                ("dan", "dan@mail.example", "", ""),
                0,
                2,
                Err(Refusal::TooManyFromSource(2)),
            ),
            // Unknown facts never match each other.
            (("eve", "", "", ""), 0, 1, Ok(())),
        ];
        for ((id, email, address, card), before, recent, expect) in cases {
            check(person(id, email, address, card), before, recent, expect);
        }
    }

    #[test]
    fn ten_and_ten_pays_both_sides_once_after_the_approval_window() {
        let (program, terms) = ten_and_ten();
        let placed = utc("2026-03-02T10:00:00Z");
        let first = |refunded_minor: i64, cancelled: bool| FirstOrder {
            order_id: "B1".into(),
            placed_at: placed,
            total_minor: 40_00,
            refunded_minor,
            cancelled,
        };
        let at = |days: i64| placed + days * DAY;
        let settle_at = |order: Option<&FirstOrder>, now: i64| {
            settle(&program, &terms, "ann", "bob", order, now)
        };
        assert_eq!(settle_at(None, at(90)), Settlement::Wait { until: None });
        let order = first(0, false);
        let approved = at(30);
        assert_eq!(
            settle_at(Some(&order), approved - 1),
            Settlement::Wait {
                until: Some(approved)
            }
        );
        let Settlement::Pay(rows) = settle_at(Some(&order), approved) else {
            panic!("a $40 order past its window pays");
        };
        let sides: Vec<(&str, &str, i64)> = (rows.iter())
            .map(|(c, e)| (c.as_str(), e.key.as_str(), e.points))
            .collect();
        assert_eq!(
            sides,
            [
                ("ann", "referral:bob:referrer", 100),
                ("bob", "referral:bob:referee", 100)
            ]
        );
        // Each side's 100 points buy the $10 reward, once: the keys are the claim's.
        for (_, e) in &rows {
            let ledger = vec![e.clone()];
            assert_eq!(balance(&ledger, approved).available, 100);
            let spent = redeem(&program, &ledger, "ten-off", "r1", approved).unwrap();
            assert_eq!(spent.points, -100);
        }
        let again = settle_at(Some(&order), at(31));
        assert_eq!(
            again,
            Settlement::Pay(rows.clone()),
            "the same rows, written once"
        );
        // Refunded to $15 (below $25), or cancelled, before the window ends: refused.
        let refunded = settle_at(Some(&first(25_00, false)), approved);
        assert_eq!(refunded, Settlement::Refuse(Refusal::BelowMinimum(15_00)));
        let cancelled = settle_at(Some(&first(0, true)), approved);
        assert_eq!(cancelled, Settlement::Refuse(Refusal::Cancelled));
        // The liability counts both sides: 200 points at 10 cents = $20, nothing expired yet.
        let mut totals = Balance::default();
        for (_, e) in &rows {
            totals.add(e.kind, e.points, true);
        }
        let owed = liability(&program, &totals, &[]);
        assert_eq!(
            (owed.outstanding_value_minor, owed.breakage),
            (Some(20_00), Some(0.0))
        );
    }
}
