//! Segments of a shop's customers as of the last rescore: the RFM segments and value tiers each
//! prediction carries, and saved segments (named conditions, as `where=` takes them, whose
//! members are found when asked for), plus the shop metrics a rescore stores. The API and the
//! dashboard both read them from here.

use crate::api::LAST_FINISHED_RUN;
use crate::conditions::Condition;
use crate::error::ApiError;
use crate::Store;
use axum::http::StatusCode;
use serde::Serialize;

/// One RFM segment or value tier: its customers and their predicted value.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Group {
    pub name: String,
    pub customers: i64,
    pub predicted_clv: Option<f64>,
    pub mean_p_alive: Option<f64>,
}

/// A saved segment and how many customers are in it now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Saved {
    pub id: i64,
    pub name: String,
    pub conditions: String,
    pub customers: i64,
}

/// What to do about each RFM segment, from the segment rules.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RfmGroup {
    #[serde(flatten)]
    pub group: Group,
    pub action: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Segments {
    /// Every rule's segment in rule order, empty ones included.
    pub rfm: Vec<RfmGroup>,
    /// The value tiers, top first.
    pub tiers: Vec<Group>,
    pub saved: Vec<Saved>,
}

async fn groups(store: &Store, shop: i64, column: &str) -> Result<Vec<Group>, sqlx::Error> {
    // `column` is one of two names written below, never from a request.
    let sql = format!(
        "SELECT p.{column} AS name, COUNT(*) AS customers, SUM(p.predicted_clv) AS predicted_clv, \
         AVG(p.p_alive) AS mean_p_alive FROM predictions p \
         WHERE p.shop_id = $1 AND p.run_id = {LAST_FINISHED_RUN} AND p.{column} IS NOT NULL GROUP BY p.{column}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .fetch_all(&store.pool)
        .await
}

/// The value tiers of the last rescore, top first (none without predicted CLV).
pub async fn tiers(store: &Store, shop: i64) -> Result<Vec<Group>, ApiError> {
    let mut tiers = groups(store, shop, "tier").await?;
    let order = |name: &str| {
        crate::rescore::TIER_PERCENTS
            .iter()
            .position(|p| name == format!("top {p}%"))
            .unwrap_or(usize::MAX)
    };
    tiers.sort_by_key(|g| order(&g.name));
    Ok(tiers)
}

/// The shop's RFM segments, tiers and saved segments with their sizes now.
pub async fn segments(store: &Store, shop: i64) -> Result<Segments, ApiError> {
    let mut by_segment = groups(store, shop, "segment").await?;
    let rfm = clv_segments::rfm::default_rules()
        .into_iter()
        .map(|rule| {
            let found = by_segment.iter().position(|g| g.name == rule.segment);
            let group = match found {
                Some(i) => by_segment.swap_remove(i),
                None => Group {
                    name: rule.segment.clone(),
                    customers: 0,
                    predicted_clv: None,
                    mean_p_alive: None,
                },
            };
            RfmGroup {
                group,
                action: rule.action,
            }
        })
        .collect();
    let tiers = tiers(store, shop).await?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, conditions FROM saved_segments WHERE shop_id = $1 ORDER BY name",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let mut saved = Vec::with_capacity(rows.len());
    for (id, name, conditions) in rows {
        let parsed = crate::conditions::parse(&conditions).unwrap_or_default();
        saved.push(Saved {
            customers: count(store, shop, &parsed).await?,
            id,
            name,
            conditions,
        });
    }
    Ok(Segments { rfm, tiers, saved })
}

/// Customers of the last rescore meeting `conditions`.
pub async fn count(store: &Store, shop: i64, conditions: &[Condition]) -> Result<i64, ApiError> {
    let sql = format!(
        "SELECT COUNT(*) FROM predictions p WHERE p.shop_id = $1 AND p.run_id = {LAST_FINISHED_RUN}{}",
        crate::conditions::sql(conditions, 2)
    );
    let mut query = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(shop);
    for c in conditions {
        query = c.bind(query);
    }
    Ok(query.fetch_one(&store.pool).await?.0)
}

/// Save `conditions` as segment `name` (names are unique in a shop; 409 if taken).
pub async fn save(
    store: &Store,
    shop: i64,
    name: &str,
    conditions: &str,
) -> Result<Saved, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "is 1 to 100 characters"));
    }
    let parsed =
        crate::conditions::parse(conditions).map_err(|e| ApiError::invalid("conditions", e))?;
    let inserted = sqlx::query_as::<_, (i64,)>(
        "INSERT INTO saved_segments (shop_id, name, conditions, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(shop)
    .bind(name)
    .bind(conditions.trim())
    .bind(crate::store::now())
    .fetch_one(&store.writer)
    .await;
    let id = match inserted {
        Ok((id,)) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "name_taken",
                format!("a segment named `{name}` exists: choose another name"),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Saved {
        id,
        name: name.to_string(),
        conditions: conditions.trim().to_string(),
        customers: count(store, shop, &parsed).await?,
    })
}

/// Saved segment `id` of `shop`.
pub async fn saved(store: &Store, shop: i64, id: i64) -> Result<Saved, ApiError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT name, conditions FROM saved_segments WHERE shop_id = $1 AND id = $2",
    )
    .bind(shop)
    .bind(id)
    .fetch_optional(&store.pool)
    .await?;
    let (name, conditions) =
        row.ok_or_else(|| ApiError::not_found(format!("no saved segment {id} in this shop")))?;
    let parsed = crate::conditions::parse(&conditions).unwrap_or_default();
    Ok(Saved {
        id,
        customers: count(store, shop, &parsed).await?,
        name,
        conditions,
    })
}

/// What the shop's latest rescore that stored JSON column `column` (`metrics` or `products`,
/// never a name from a request) stored there, with that run's day; none before the first.
async fn last_stored(
    store: &Store,
    shop: i64,
    column: &str,
) -> Result<Option<(String, serde_json::Value)>, ApiError> {
    let sql = format!(
        "SELECT as_of, {column} FROM score_runs WHERE shop_id = $1 AND {column} IS NOT NULL ORDER BY id DESC LIMIT 1"
    );
    let row: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .fetch_optional(&store.pool)
        .await?;
    Ok(row.map(|(as_of, m)| (as_of, serde_json::from_str(&m).unwrap_or_default())))
}

/// The shop metrics, cohorts and months of the last rescore that could read a history.
pub async fn metrics(
    store: &Store,
    shop: i64,
) -> Result<Option<(String, serde_json::Value)>, ApiError> {
    last_stored(store, shop, "metrics").await
}

/// The cycles, reminders and rules of the last rescore that found product lines.
pub async fn products(
    store: &Store,
    shop: i64,
) -> Result<Option<(String, serde_json::Value)>, ApiError> {
    last_stored(store, shop, "products").await
}
