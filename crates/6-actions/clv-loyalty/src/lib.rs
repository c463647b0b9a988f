//! The loyalty ledger's rules, as pure functions over ledger rows: what an order earns and what
//! its refunds and cancellation take back, balances, redemptions, lot expiry at the end of a
//! month in the shop's zone, tiers (by points or by predicted CLV), and the liability report.
//!
//! The ledger is append-only and every row has a deterministic key (`earn:{order}`,
//! `refund:{refund}`, `cancel:{order}`, `redeem:{client key}`, `expire:{lot}`): the store keeps
//! it under a unique constraint, so a replayed event or a retried request writes nothing twice.
//! The functions here say which rows are missing given the facts and the rows already written;
//! the amounts they compute are "what the facts call for, less what is written", so running them
//! again (or with the facts arriving in another order) adds nothing. A balance is always a sum of
//! rows; there is no counter to drift.
//!
//! Policies (documented in the README's loyalty section):
//! - An order's points are `floor(total × points_per_unit)` in whole currency units, spendable
//!   `pending_days` after it was placed. Its refunds take back points in proportion to the
//!   amount refunded (rounded down, so a customer never loses more than the share refunded), at
//!   the rate the order earned at, never more than it earned; a cancellation takes back what is
//!   left. A cancelled order that had earned nothing earns nothing.
//! - Points already spent when their order is refunded leave the balance negative (a debt): the
//!   customer cannot redeem until new points cover it.
//! - A later snapshot of an order with another total re-prices its points, unless a refund or
//!   cancellation has already taken points back (then the reversals, which are proportional to the
//!   total they saw, stay as they are).

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub mod referral;
pub use referral::Referrals;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A shop's program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Points per whole currency unit of an order's total.
    pub points_per_unit: u32,
    /// Orders below this total (minor units) earn nothing.
    #[serde(default)]
    pub min_order_minor: i64,
    /// Days after an order before its points can be spent (set it longer than the return window).
    #[serde(default = "default_pending_days")]
    pub pending_days: u32,
    /// Lot expiry: a lot expires at the end of the month `expiry_months` after it became
    /// spendable (midnight, shop time). None: points never expire.
    #[serde(default)]
    pub expiry_months: Option<u32>,
    /// When expiry was switched on (UTC seconds). Lots older than this count from it, so
    /// switching expiry on never expires history at once.
    #[serde(default)]
    pub expiry_since: Option<i64>,
    /// What tiers go by: points earned in the window (default), or the customer's predicted
    /// CLV from the latest rescore.
    #[serde(default)]
    pub tier_basis: TierBasis,
    /// Tiers, lowest first.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// The window tier points are counted in.
    #[serde(default)]
    pub tier_window: TierWindow,
    /// What points buy.
    #[serde(default)]
    pub rewards: Vec<Reward>,
    /// Double-sided referrals (none: no referral program).
    #[serde(default)]
    pub referrals: Option<Referrals>,
}

fn default_pending_days() -> u32 {
    30
}

/// A tier: customers with at least `min_points` earned in the window are in it, or, when tiers
/// go by predicted CLV, customers whose predicted CLV is at least `min_clv` (currency units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    #[serde(default)]
    pub min_points: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_clv: Option<f64>,
}

/// What puts a customer in a tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBasis {
    /// Points each order kept (earned less refunds), for orders placed in the tier window.
    #[default]
    Points,
    /// The predicted CLV of the latest rescore: the value still to come, not the value past. A
    /// customer without a prediction yet counts as 0.
    PredictedClv,
}

/// Which orders' points count towards a tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierWindow {
    /// Orders placed in the last 365 days.
    #[default]
    #[serde(rename = "rolling_12_months")]
    Rolling12Months,
    /// Every order.
    Lifetime,
}

/// A reward in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reward {
    pub id: String,
    pub name: String,
    pub kind: RewardKind,
    /// Its price in points.
    pub points: i64,
    /// The discount or credit in minor units (fixed_discount, store_credit), or percent
    /// (percentage); unused by the others.
    #[serde(default)]
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    FixedDiscount,
    Percentage,
    FreeShipping,
    FreeProduct,
    StoreCredit,
}

/// Why a program or a redemption is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoyaltyError {
    #[error("the program is invalid: {0}")]
    Program(String),
    #[error("there is no reward `{0}` in the catalogue")]
    NoSuchReward(String),
    #[error("{needed} points are needed and {available} are spendable")]
    NotEnough { needed: i64, available: i64 },
}

impl Program {
    /// The problems of a program, each a sentence (none: it can be saved).
    pub fn check(&self) -> Result<(), LoyaltyError> {
        let mut problems = Vec::new();
        if self.min_order_minor < 0 {
            problems.push("min_order_minor cannot be negative".to_string());
        }
        if self.expiry_months.is_some_and(|m| !(1..=1200).contains(&m)) {
            problems.push("expiry_months must be 1 to 1200 (or absent: no expiry)".into());
        }
        if self.pending_days > 3650 {
            problems.push("pending_days is at most 3650 (ten years)".into());
        }
        if self.expiry_months.is_some() != self.expiry_since.is_some() {
            problems.push("expiry_months and expiry_since go together".into());
        }
        match self.tier_basis {
            TierBasis::Points => {
                for pair in self.tiers.windows(2) {
                    if pair[1].min_points <= pair[0].min_points {
                        problems.push(format!(
                            "tier `{}` must need more points than `{}` (tiers go lowest first)",
                            pair[1].name, pair[0].name
                        ));
                    }
                }
                for t in self.tiers.iter().filter(|t| t.min_clv.is_some()) {
                    problems.push(format!(
                        "tier `{}`: min_clv is for \"tier_basis\": \"predicted_clv\"",
                        t.name
                    ));
                }
            }
            TierBasis::PredictedClv => {
                for t in &self.tiers {
                    if !t.min_clv.is_some_and(|v| v.is_finite() && v >= 0.0) {
                        problems.push(format!(
                            "tier `{}` needs min_clv, a predicted CLV of 0 or more",
                            t.name
                        ));
                    }
                }
                for pair in self.tiers.windows(2) {
                    if let (Some(low), Some(high)) = (pair[0].min_clv, pair[1].min_clv) {
                        if high <= low {
                            problems.push(format!(
                                "tier `{}` must need a higher predicted CLV than `{}` (tiers go lowest first)",
                                pair[1].name, pair[0].name
                            ));
                        }
                    }
                }
            }
        }
        let mut ids = HashSet::new();
        for r in &self.rewards {
            if r.points <= 0 {
                problems.push(format!("reward `{}` must cost at least 1 point", r.id));
            }
            if !ids.insert(&r.id) {
                problems.push(format!("reward id `{}` is used twice", r.id));
            }
            if r.kind == RewardKind::Percentage && !(1..=100).contains(&r.value) {
                problems.push(format!("reward `{}`: a percentage is 1 to 100", r.id));
            }
        }
        if let Some(r) = &self.referrals {
            if r.referrer_points < 0 || r.referee_points < 0 {
                problems.push("referral points cannot be negative".into());
            }
            if r.referrer_points == 0 && r.referee_points == 0 {
                problems.push("a referral must give points to one side at least".into());
            }
            if r.max_per_source == 0 || r.source_window_days == 0 {
                problems
                    .push("referrals: max_per_source and source_window_days are at least 1".into());
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(LoyaltyError::Program(problems.join("; "))),
        }
    }

    /// The points `total_minor` earns at `rate` points per unit.
    pub fn points(&self, total_minor: i64, rate: u32, minor_digits: u32) -> i64 {
        if total_minor < self.min_order_minor.max(1) {
            return 0;
        }
        (i128::from(total_minor) * i128::from(rate) / 10i128.pow(minor_digits)) as i64
    }
}

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Points an order earned.
    Earn,
    /// A later snapshot of the order changed its total.
    Reprice,
    /// A refund took back its share.
    Reverse,
    /// A cancellation took back what was left.
    Cancel,
    /// Points spent on a reward.
    Redeem,
    /// A lot's unspent points expired.
    Expire,
    /// An operator's correction.
    Adjust,
    /// A referral paid (to the referrer or the new customer).
    Referral,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Earn,
        Kind::Reprice,
        Kind::Reverse,
        Kind::Cancel,
        Kind::Redeem,
        Kind::Expire,
        Kind::Adjust,
        Kind::Referral,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Earn => "earn",
            Kind::Reprice => "reprice",
            Kind::Reverse => "reverse",
            Kind::Cancel => "cancel",
            Kind::Redeem => "redeem",
            Kind::Expire => "expire",
            Kind::Adjust => "adjust",
            Kind::Referral => "referral",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Rows that belong to an order (its lot).
    pub fn of_order(self) -> bool {
        matches!(
            self,
            Kind::Earn | Kind::Reprice | Kind::Reverse | Kind::Cancel
        )
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Deterministic and unique in the shop: the same effect always has the same key.
    pub key: String,
    pub kind: Kind,
    /// Signed: earns are positive, the rest negative (an adjustment may be either).
    pub points: i64,
    /// When it happened (UTC seconds).
    pub at: i64,
    /// When it counts towards the spendable balance (later than `at` while pending).
    pub available_at: i64,
    /// The order it came from.
    pub order_id: Option<String>,
    /// The points per unit of the order's earn (reversals take back at the rate earned).
    pub rate: u32,
    /// What the customer is shown.
    pub reason: String,
}

/// An order as the store knows it now.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub order_id: String,
    pub placed_at: i64,
    pub total_minor: i64,
    /// The time of the snapshot `total_minor` comes from.
    pub version_at: i64,
    pub cancelled_at: Option<i64>,
    pub refunds: Vec<RefundFact>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundFact {
    pub refund_id: String,
    pub at: i64,
    pub amount_minor: i64,
}

/// The points the refunds and cancellation of an order with `gross` points call for, having
/// refunded `refunded` of `total`: in proportion, rounded down, everything once cancelled or
/// refunded in full.
pub fn reversal_due(gross: i64, total: i64, refunded: i64, cancelled: bool) -> i64 {
    if cancelled || refunded >= total {
        return gross.max(0);
    }
    (i128::from(gross.max(0)) * i128::from(refunded.max(0)) / i128::from(total.max(1))) as i64
}

/// The rows `order` calls for that `written` (the order's rows so far) lacks.
pub fn order_effects(
    program: &Program,
    minor_digits: u32,
    order: &OrderFacts,
    written: &[Entry],
) -> Vec<Entry> {
    let mut new = Vec::new();
    let id = &order.order_id;
    let sum = |rows: &[Entry], kinds: &[Kind]| -> i64 {
        (rows.iter())
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| e.points)
            .sum()
    };
    let earn = written.iter().find(|e| e.kind == Kind::Earn).cloned();
    let earn = match earn {
        Some(e) => e,
        None => {
            let rate = program.points_per_unit;
            let points = program.points(order.total_minor, rate, minor_digits);
            // A cancelled order that never earned earns nothing.
            if points == 0 || order.cancelled_at.is_some() {
                return new;
            }
            let e = Entry {
                key: format!("earn:{id}"),
                kind: Kind::Earn,
                points,
                at: order.placed_at,
                available_at: order.placed_at + i64::from(program.pending_days) * DAY,
                order_id: Some(id.clone()),
                rate,
                reason: format!("order {id}"),
            };
            new.push(e.clone());
            e
        }
    };
    let all = |new: &[Entry]| -> Vec<Entry> { written.iter().chain(new).cloned().collect() };
    let row = |key: String, kind: Kind, points: i64, at: i64, reason: String| Entry {
        key,
        kind,
        points,
        at,
        available_at: earn.available_at.max(at),
        order_id: Some(id.clone()),
        rate: earn.rate,
        reason,
    };
    let reversed_kinds = [Kind::Reverse, Kind::Cancel];
    let rows = all(&new);
    let mut gross = sum(&rows, &[Kind::Earn, Kind::Reprice]);
    if sum(&rows, &reversed_kinds) == 0 && order.cancelled_at.is_none() && order.refunds.is_empty()
    {
        let due = program.points(order.total_minor, earn.rate, minor_digits);
        let key = format!("reprice:{id}:{}", order.version_at);
        if due != gross && !rows.iter().any(|e| e.key == key) {
            new.push(row(
                key,
                Kind::Reprice,
                due - gross,
                order.version_at,
                format!("order {id} changed"),
            ));
            gross = due;
        }
    }
    let mut reversed = -sum(&all(&new), &reversed_kinds);
    // The refunds already taken back count first, whatever order they came in; the new ones
    // follow by time, each taking what the refunded total now calls for.
    let is_written = |r: &RefundFact| {
        let key = format!("refund:{}", r.refund_id);
        written.iter().any(|e| e.key == key)
    };
    let mut refunded: i64 = (order.refunds.iter())
        .filter(|r| is_written(r))
        .map(|r| r.amount_minor)
        .sum();
    let mut fresh: Vec<&RefundFact> = order.refunds.iter().filter(|r| !is_written(r)).collect();
    fresh.sort_by(|a, b| (a.at, &a.refund_id).cmp(&(b.at, &b.refund_id)));
    for r in fresh {
        refunded = refunded.saturating_add(r.amount_minor);
        let due = reversal_due(gross, order.total_minor, refunded, false) - reversed;
        if due > 0 {
            new.push(row(
                format!("refund:{}", r.refund_id),
                Kind::Reverse,
                -due,
                r.at,
                format!("refund {} of order {id}", r.refund_id),
            ));
            reversed += due;
        }
    }
    if let Some(at) = order.cancelled_at {
        let key = format!("cancel:{id}");
        let due = gross - reversed;
        if due > 0 && !written.iter().any(|e| e.key == key) {
            new.push(row(
                key,
                Kind::Cancel,
                -due,
                at,
                format!("order {id} cancelled"),
            ));
        }
    }
    new
}

/// A customer's points now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Spendable now (negative: a debt from refunds of points already spent).
    pub available: i64,
    /// Earned, not yet spendable.
    pub pending: i64,
    /// Kept from orders: earned less what refunds and cancellations took back.
    pub earned: i64,
    pub redeemed: i64,
    pub expired: i64,
    /// Given for referrals.
    pub referrals: i64,
}

impl Balance {
    /// Count `points` of a row of `kind`, spendable or still pending.
    pub fn add(&mut self, kind: Kind, points: i64, spendable: bool) {
        if spendable {
            self.available += points;
        } else {
            self.pending += points;
        }
        match kind {
            k if k.of_order() => self.earned += points,
            Kind::Redeem => self.redeemed -= points,
            Kind::Expire => self.expired -= points,
            Kind::Referral => self.referrals += points,
            _ => {}
        }
    }
}

/// The balance of `entries` at `now`: sums of the rows, nothing else.
pub fn balance(entries: &[Entry], now: i64) -> Balance {
    let mut b = Balance::default();
    for e in entries.iter().filter(|e| e.at <= now) {
        b.add(e.kind, e.points, e.available_at <= now);
    }
    b
}

/// What a program owes and has cost: how a shop owner tells whether it pays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Liability {
    /// Points customers hold, spendable or pending (less any debts from refunds).
    pub outstanding_points: i64,
    /// The money a point buys at the program's best cash reward (a fixed discount or store
    /// credit), in minor units; none without one.
    pub point_value_minor: Option<f64>,
    /// The outstanding points at that value, rounded: what the shop owes at most.
    pub outstanding_value_minor: Option<i64>,
    /// Breakage so far: the share of points given (kept from orders, and referrals) that
    /// expired unspent.
    pub breakage: Option<f64>,
    pub rewards_issued: u64,
    /// The money value of the cash rewards issued (fixed discounts and store credit).
    pub cash_rewards_minor: i64,
    /// Rewards issued whose cost depends on the basket (percentages, free shipping or products).
    pub other_rewards: u64,
}

/// The liability of `program` with every customer's rows summed into `totals` and the rewards
/// `issued` so far.
pub fn liability(program: &Program, totals: &Balance, issued: &[Reward]) -> Liability {
    let cash = |r: &Reward| matches!(r.kind, RewardKind::FixedDiscount | RewardKind::StoreCredit);
    let point_value = (program.rewards.iter())
        .filter(|r| cash(r) && r.points > 0)
        .map(|r| r.value as f64 / r.points as f64)
        .fold(None, |best: Option<f64>, v| {
            Some(best.map_or(v, |b| b.max(v)))
        });
    let outstanding = totals.available + totals.pending;
    let given = totals.earned + totals.referrals;
    Liability {
        outstanding_points: outstanding,
        point_value_minor: point_value,
        outstanding_value_minor: point_value.map(|v| (outstanding as f64 * v).round() as i64),
        breakage: (given > 0).then(|| totals.expired as f64 / given as f64),
        rewards_issued: issued.len() as u64,
        cash_rewards_minor: issued.iter().filter(|r| cash(r)).map(|r| r.value).sum(),
        other_rewards: issued.iter().filter(|r| !cash(r)).count() as u64,
    }
}

/// The row that spends `reward`'s points at `now` under the client's `key`, if they are there.
pub fn redeem(
    program: &Program,
    entries: &[Entry],
    reward_id: &str,
    key: &str,
    now: i64,
) -> Result<Entry, LoyaltyError> {
    let reward = (program.rewards.iter())
        .find(|r| r.id == reward_id)
        .ok_or_else(|| LoyaltyError::NoSuchReward(reward_id.to_string()))?;
    let available = balance(entries, now).available;
    if available < reward.points {
        return Err(LoyaltyError::NotEnough {
            needed: reward.points,
            available,
        });
    }
    Ok(Entry {
        key: format!("redeem:{key}"),
        kind: Kind::Redeem,
        points: -reward.points,
        at: now,
        available_at: now,
        order_id: None,
        rate: 0,
        reason: format!("redeemed for {}", reward.name),
    })
}

/// When a lot that became spendable at `available_at` expires: midnight (shop time) at the end
/// of the month `expiry_months` after it, counting from when expiry was switched on if later.
pub fn expires_at(program: &Program, zone: chrono_tz::Tz, available_at: i64) -> Option<i64> {
    let (months, since) = (program.expiry_months?, program.expiry_since?);
    let start = chrono::DateTime::from_timestamp(available_at.max(since), 0)?.with_timezone(&zone);
    let month = start.year() * 12 + start.month0() as i32 + months as i32 + 1;
    let first = NaiveDate::from_ymd_opt(month.div_euclid(12), month.rem_euclid(12) as u32 + 1, 1)?;
    // Midnight exists in every zone but a few that skip it on a change day; then the first
    // instant after the gap.
    let midnight = first.and_hms_opt(0, 0, 0)?;
    let local = (zone.from_local_datetime(&midnight).earliest()).or_else(|| {
        zone.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(local.timestamp())
}

/// The expiry rows due by `now`: lots are spent oldest first (by when they became spendable),
/// and what is left of a lot past its expiry date expires. The row is dated `now`, the sweep
/// that writes it: points spent between the expiry date and the sweep were the customer's to
/// spend (the balance showed them), so they are not expired again.
pub fn expiries(program: &Program, zone: chrono_tz::Tz, entries: &[Entry], now: i64) -> Vec<Entry> {
    expiry_walk(program, zone, entries, now).0
}

/// The lots that expire after `now` and by `until`, with the points left in each and when:
/// what an expiry warning tells the customer.
pub fn expiring(
    program: &Program,
    zone: chrono_tz::Tz,
    entries: &[Entry],
    now: i64,
    until: i64,
) -> Vec<(String, i64, i64)> {
    let (_, lots) = expiry_walk(program, zone, entries, now);
    (lots.into_iter())
        .filter(|l| l.remaining > 0 && l.expires_at.is_some_and(|t| t > now && t <= until))
        .map(|l| (l.key, l.remaining, l.expires_at.unwrap_or_default()))
        .collect()
}

struct Lot {
    key: String,
    remaining: i64,
    expires_at: Option<i64>,
}

fn expiry_walk(
    program: &Program,
    zone: chrono_tz::Tz,
    entries: &[Entry],
    now: i64,
) -> (Vec<Entry>, Vec<Lot>) {
    // Each order is a lot worth what it kept; an adjustment up is a lot of its own.
    let mut value: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut lot_of_order: HashMap<&str, String> = HashMap::new();
    for e in entries.iter().filter(|e| e.kind == Kind::Earn) {
        if let Some(order) = &e.order_id {
            lot_of_order.insert(order, e.key.clone());
            value.insert(&e.key, (0, e.available_at));
        }
    }
    for e in entries {
        let lot = match (&e.order_id, e.kind) {
            (Some(order), k) if k.of_order() => {
                lot_of_order.get(order.as_str()).map(|k| k.as_str())
            }
            (_, Kind::Adjust | Kind::Referral) if e.points > 0 => {
                value.insert(&e.key, (0, e.available_at));
                Some(e.key.as_str())
            }
            _ => None,
        };
        if let Some(v) = lot.and_then(|l| value.get_mut(l)) {
            v.0 += e.points;
        }
    }
    let expired: HashMap<&str, (i64, i64)> = (entries.iter())
        .filter(|e| e.kind == Kind::Expire)
        .filter_map(|e| Some((e.key.strip_prefix("expire:")?, (-e.points, e.at))))
        .collect();
    // The timeline: lots becoming spendable, spending, and expiries (written ones when they were
    // written, due ones now, oldest date first).
    enum Step<'a> {
        Open(&'a str),
        Spend(i64),
        Expire(&'a str),
    }
    let mut steps: Vec<(i64, u8, i64, &str, Step)> = Vec::new();
    for (&key, &(points, available_at)) in &value {
        if points <= 0 {
            continue;
        }
        steps.push((available_at, 0, 0, key, Step::Open(key)));
        match (expired.get(key), expires_at(program, zone, available_at)) {
            // A written expiry goes before spending in the same second: whatever was spent
            // after it saw the balance without it; one spent before it left it smaller.
            (Some(&(_, at)), due) => steps.push((at, 1, due.unwrap_or(at), key, Step::Expire(key))),
            // A due one goes after everything up to now: the sweep writes it last.
            (None, Some(due)) if due <= now => steps.push((now, 3, due, key, Step::Expire(key))),
            _ => {}
        }
    }
    for e in entries.iter().filter(|e| e.at <= now) {
        if matches!(e.kind, Kind::Redeem) || (e.kind == Kind::Adjust && e.points < 0) {
            steps.push((e.at, 2, 0, &e.key, Step::Spend(-e.points)));
        }
    }
    steps.sort_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
    let mut lots: Vec<Lot> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut debt = 0i64;
    let mut new = Vec::new();
    for (t, _, _, _, step) in steps {
        match step {
            Step::Open(key) => {
                let mut remaining = value[key].0;
                let paid = remaining.min(debt);
                (remaining, debt) = (remaining - paid, debt - paid);
                index.insert(key, lots.len());
                lots.push(Lot {
                    key: key.to_string(),
                    remaining,
                    expires_at: expires_at(program, zone, value[key].1),
                });
            }
            Step::Spend(mut points) => {
                for lot in lots.iter_mut().filter(|l| l.remaining > 0) {
                    let take = lot.remaining.min(points);
                    (lot.remaining, points) = (lot.remaining - take, points - take);
                    if points == 0 {
                        break;
                    }
                }
                debt += points;
            }
            Step::Expire(key) => {
                let Some(lot) = index.get(key).map(|&i| &mut lots[i]) else {
                    continue;
                };
                match expired.get(key) {
                    Some(&(points, _)) => lot.remaining -= points,
                    None if lot.remaining > 0 => {
                        new.push(Entry {
                            key: format!("expire:{key}"),
                            kind: Kind::Expire,
                            points: -lot.remaining,
                            at: t,
                            available_at: t,
                            order_id: None,
                            rate: 0,
                            reason: "points expired".into(),
                        });
                        lot.remaining = 0;
                    }
                    None => {}
                }
            }
        }
    }
    (new, lots)
}

/// The points that count towards a tier at `now`: what each order in the window kept (its
/// earn, re-pricing, refunds and cancellation), by when the order was placed, so a refund
/// takes an order's points out of the window it earned them in.
pub fn tier_points(program: &Program, entries: &[Entry], now: i64) -> i64 {
    let placed: HashMap<&str, i64> = (entries.iter())
        .filter(|e| e.kind == Kind::Earn)
        .filter_map(|e| Some((e.order_id.as_deref()?, e.at)))
        .collect();
    let from = match program.tier_window {
        TierWindow::Rolling12Months => now - 365 * DAY,
        TierWindow::Lifetime => i64::MIN,
    };
    (entries.iter())
        .filter(|e| e.kind.of_order() && e.at <= now)
        .filter_map(|e| Some((placed.get(e.order_id.as_deref()?)?, e.points)))
        .filter(|(&at, _)| at > from && at <= now)
        .map(|(_, p)| p)
        .sum()
}

/// The tier of a customer with `entries` at `now` and `predicted_clv` from the latest rescore
/// (none below the lowest tier).
pub fn tier<'p>(
    program: &'p Program,
    entries: &[Entry],
    now: i64,
    predicted_clv: Option<f64>,
) -> Option<&'p Tier> {
    let mut tiers = program.tiers.iter().rev();
    match program.tier_basis {
        TierBasis::Points => {
            let points = tier_points(program, entries, now);
            tiers.find(|t| points >= t.min_points)
        }
        TierBasis::PredictedClv => {
            let clv = predicted_clv.filter(|v| v.is_finite()).unwrap_or(0.0);
            tiers.find(|t| t.min_clv.is_some_and(|min| clv >= min))
        }
    }
}

#[cfg(test)]
mod tests;
