//! Referrals on the store: each customer's code, claims screened when made (the rules are
//! `clv_loyalty::referral`'s), and the sweep that pays both sides once the referee's first
//! order is past its approval window, or refuses with the reason. One claim per referee (the
//! table's key), and the two ledger rows have keys from the claim, so nothing pays twice.

use crate::error::ApiError;
use axum::http::StatusCode;
use clv_loyalty::referral::{screen, settle, Claim, FirstOrder, Person, Refusal, Settlement};
use clv_loyalty::{Program, Referrals};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The program's referral terms (none: 404 with what to set).
async fn terms(store: &crate::Store, shop: i64) -> Result<(Program, Referrals), ApiError> {
    let program = crate::loyalty::program(store, shop).await?;
    match program.referrals.clone() {
        Some(terms) => Ok((program, terms)),
        None => Err(ApiError::not_found(
            "the loyalty program has no referrals: add \"referrals\": {\"referrer_points\": …, \"referee_points\": …} to it",
        )),
    }
}

/// A customer's referral code, made on first ask (16 letters and digits, 80 random bits).
pub async fn code(store: &crate::Store, shop: i64, customer: &str) -> Result<String, ApiError> {
    terms(store, shop).await?;
    crate::api::known_customer(store, shop, customer).await?;
    sqlx::query(
        "INSERT INTO referral_codes (shop_id, customer_id, code, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop_id, customer_id) DO NOTHING",
    )
    .bind(shop)
    .bind(customer)
    .bind(crate::loyalty::reward_code())
    .bind(crate::store::now())
    .execute(&store.writer)
    .await?;
    let (code,): (String,) =
        sqlx::query_as("SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = $2")
            .bind(shop)
            .bind(customer)
            .fetch_one(&store.pool)
            .await?;
    Ok(code)
}

/// A new customer says who referred them (at sign-up or before checkout).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The referrer's code.
    pub code: String,
    /// The new customer.
    pub customer_id: String,
    /// What identifies them, if the customer record lacks it (the self-referral checks).
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub payment_fingerprint: Option<String>,
    /// The IP address or device id the claim came from (the per-source limit).
    #[serde(default)]
    pub source: Option<String>,
}

/// A claim as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Referral {
    pub referee_id: String,
    pub referrer_id: String,
    pub code: String,
    pub claimed_at: i64,
    /// pending, paid, refused or cancelled.
    pub status: String,
    /// Why it was refused or cancelled.
    pub reason: Option<String>,
    /// The first order that paid or refused it.
    pub order_id: Option<String>,
    pub settled_at: Option<i64>,
}

type ReferralRow = (
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str =
    "referee_id, referrer_id, code, claimed_at, status, reason, order_id, settled_at";

fn referral(row: ReferralRow) -> Referral {
    let (referee_id, referrer_id, code, claimed_at, status, reason, order_id, settled_at) = row;
    Referral {
        referee_id,
        referrer_id,
        code,
        claimed_at,
        status,
        reason,
        order_id,
        settled_at,
    }
}

/// A customer's identifying facts: the customer record's, with `given` ones first.
async fn person(
    store: &crate::Store,
    shop: i64,
    customer: &str,
    given: Person,
) -> Result<Person, ApiError> {
    let row: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT email, traits FROM customers WHERE shop_id = $1 AND customer_id = $2",
    )
    .bind(shop)
    .bind(customer)
    .fetch_optional(&store.pool)
    .await?;
    let (email, traits) = row.unwrap_or_default();
    let traits: Value = serde_json::from_str(&traits).unwrap_or_default();
    let trait_text = |name: &str| traits.get(name).and_then(Value::as_str).map(String::from);
    Ok(Person {
        customer_id: customer.to_string(),
        email: given.email.or(email).or_else(|| trait_text("email")),
        address: given.address.or_else(|| trait_text("address")),
        payment_fingerprint: given
            .payment_fingerprint
            .or_else(|| trait_text("payment_fingerprint")),
    })
}

/// How many orders `customer` placed before `at`.
async fn orders_before<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    shop: i64,
    customer: &str,
    at: i64,
) -> Result<u64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND customer_id = $2 AND placed_at < $3",
    )
    .bind(shop)
    .bind(customer)
    .bind(at)
    .fetch_one(executor)
    .await?;
    Ok(n.max(0) as u64)
}

/// Record `request` at `now`: the claim, pending or refused with the reason (201), or the one
/// already made with the same code (200). A referee already claimed by another code: 409.
pub async fn claim(
    store: &crate::Store,
    shop: i64,
    request: &ClaimRequest,
    now: i64,
) -> Result<(StatusCode, Referral), ApiError> {
    let (_, terms) = terms(store, shop).await?;
    let referrer: Option<(String,)> =
        sqlx::query_as("SELECT customer_id FROM referral_codes WHERE shop_id = $1 AND code = $2")
            .bind(shop)
            .bind(request.code.trim().to_uppercase())
            .fetch_optional(&store.pool)
            .await?;
    let Some((referrer,)) = referrer else {
        return Err(ApiError::not_found(format!(
            "no referral code `{}` in this shop: GET /api/v1/customers/{{id}}/referral gives a customer's",
            request.code
        )));
    };
    if let Some(existing) = find(store, shop, &request.customer_id).await? {
        return match existing.referrer_id == referrer {
            true => Ok((StatusCode::OK, existing)),
            false => Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_referred",
                "this customer was referred with another code already; a customer is referred once",
            )),
        };
    }
    let given = Person {
        customer_id: request.customer_id.clone(),
        email: request.email.clone(),
        address: request.address.clone(),
        payment_fingerprint: request.payment_fingerprint.clone(),
    };
    let referee = person(store, shop, &request.customer_id, given).await?;
    let referrer_person = person(store, shop, &referrer, Person::default()).await?;
    let before = orders_before(&store.pool, shop, &request.customer_id, now).await?;
    let recent = match &request.source {
        Some(source) => {
            let since = now - i64::from(terms.source_window_days) * clv_loyalty::DAY;
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM referrals WHERE shop_id = $1 AND source = $2 AND claimed_at > $3",
            )
            .bind(shop)
            .bind(source)
            .bind(since)
            .fetch_one(&store.pool)
            .await?;
            n
        }
        None => 0,
    };
    let claim = Claim {
        referrer: referrer_person,
        referee,
        referee_orders_before: before,
        recent_from_source: recent.clamp(0, i64::from(u32::MAX)) as u32,
    };
    let (status, reason) = match screen(&terms, &claim) {
        Ok(()) => ("pending", None),
        Err(refusal) => ("refused", Some(refusal.to_string())),
    };
    sqlx::query(
        "INSERT INTO referrals (shop_id, referee_id, referrer_id, code, claimed_at, source, status, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (shop_id, referee_id) DO NOTHING",
    )
    .bind(shop)
    .bind(&request.customer_id)
    .bind(&referrer)
    .bind(request.code.trim().to_uppercase())
    .bind(now)
    .bind(&request.source)
    .bind(status)
    .bind(&reason)
    .execute(&store.writer)
    .await?;
    // A concurrent claim for the same referee may have won: report what is stored.
    let stored = find(store, shop, &request.customer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the claim was not stored"))?;
    Ok((StatusCode::CREATED, stored))
}

async fn find(
    store: &crate::Store,
    shop: i64,
    referee: &str,
) -> Result<Option<Referral>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM referrals WHERE shop_id = $1 AND referee_id = $2");
    let row: Option<ReferralRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .bind(referee)
        .fetch_optional(&store.writer)
        .await?;
    Ok(row.map(referral))
}

/// The shop's referrals, newest first.
pub async fn list(store: &crate::Store, shop: i64) -> Result<Vec<Referral>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM referrals WHERE shop_id = $1 ORDER BY claimed_at DESC, referee_id"
    );
    let rows: Vec<ReferralRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .fetch_all(&store.pool)
        .await?;
    Ok(rows.into_iter().map(referral).collect())
}

/// An operator cancels a pending claim, with the reason. A settled one cannot be (409).
pub async fn cancel(
    store: &crate::Store,
    shop: i64,
    referee: &str,
    reason: &str,
    now: i64,
) -> Result<Referral, ApiError> {
    let Some(existing) = find(store, shop, referee).await? else {
        return Err(ApiError::not_found("this customer has no referral"));
    };
    let done = sqlx::query(
        "UPDATE referrals SET status = 'cancelled', reason = $1, settled_at = $2 \
         WHERE shop_id = $3 AND referee_id = $4 AND status = 'pending'",
    )
    .bind(Refusal::ByOperator(reason.to_string()).to_string())
    .bind(now)
    .bind(shop)
    .bind(referee)
    .execute(&store.writer)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "settled",
            format!("the referral is {} already", existing.status),
        ));
    }
    find(store, shop, referee)
        .await?
        .ok_or_else(|| ApiError::not_found("this customer has no referral"))
}

/// Settle every pending claim whose first order's window has passed by `now`: (paid, refused).
pub async fn settle_due(store: &crate::Store, shop: i64, now: i64) -> Result<(u64, u64), ApiError> {
    let (program, terms) = terms(store, shop).await?;
    let pending: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT referee_id, referrer_id, claimed_at FROM referrals WHERE shop_id = $1 AND status = 'pending' ORDER BY referee_id",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let (mut paid, mut refused) = (0, 0);
    for (referee, referrer, claimed_at) in pending {
        let mut tx = store.writer.begin().await?;
        let first: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT order_id, placed_at, total_minor FROM orders WHERE shop_id = $1 AND customer_id = $2 AND placed_at >= $3 \
             ORDER BY placed_at, order_id LIMIT 1",
        )
        .bind(shop)
        .bind(&referee)
        .bind(claimed_at)
        .fetch_optional(&mut *tx)
        .await?;
        let order = match first {
            Some((order_id, placed_at, total_minor)) => {
                // Cast: PostgreSQL sums BIGINTs as NUMERIC.
                let (refunded,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds WHERE shop_id = $1 AND order_id = $2",
                )
                .bind(shop)
                .bind(&order_id)
                .fetch_one(&mut *tx)
                .await?;
                let cancelled: Option<(i64,)> = sqlx::query_as(
                    "SELECT 1 FROM cancellations WHERE shop_id = $1 AND order_id = $2",
                )
                .bind(shop)
                .bind(&order_id)
                .fetch_optional(&mut *tx)
                .await?;
                Some(FirstOrder {
                    order_id,
                    placed_at,
                    total_minor,
                    refunded_minor: refunded,
                    cancelled: cancelled.is_some(),
                })
            }
            None => None,
        };
        // Orders dated before the claim may arrive after it (a late webhook, an import): the
        // referee was a customer already after all.
        let before = orders_before(&mut *tx, shop, &referee, claimed_at).await?;
        let settlement = match before {
            0 => settle(&program, &terms, &referrer, &referee, order.as_ref(), now),
            n => Settlement::Refuse(Refusal::AlreadyCustomer(n)),
        };
        let order_id = order.map(|o| o.order_id);
        let (status, reason) = match settlement {
            Settlement::Wait { .. } => continue,
            Settlement::Pay(rows) => {
                crate::loyalty::insert(&mut tx, shop, &rows).await?;
                paid += 1;
                ("paid", None)
            }
            Settlement::Refuse(refusal) => {
                refused += 1;
                ("refused", Some(refusal.to_string()))
            }
        };
        sqlx::query(
            "UPDATE referrals SET status = $1, reason = $2, order_id = $3, settled_at = $4 \
             WHERE shop_id = $5 AND referee_id = $6 AND status = 'pending'",
        )
        .bind(status)
        .bind(reason)
        .bind(order_id)
        .bind(now)
        .bind(shop)
        .bind(&referee)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok((paid, refused))
}
