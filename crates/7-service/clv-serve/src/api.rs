//! The HTTP API under `/api/v1`, health checks, and the Idempotency-Key protocol every mutating
//! endpoint follows. Every handler takes the authenticated [`Caller`], and every query is scoped
//! to the caller's shop.

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::shops::Shop;
use crate::Store;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Largest request body: a batch of events or an upload.
pub const MAX_BODY: usize = 16 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Threads a rescore uses.
    pub threads: usize,
    /// Requests each key may make, per second and in a burst.
    pub limits: std::sync::Arc<crate::auth::RateLimits>,
    /// Keys recently looked up.
    pub keys: std::sync::Arc<crate::auth::KeyCache>,
    /// The address providers reach the service at (Twilio signs the URL it posts to); `None`:
    /// the request's `Host`.
    pub public_url: Option<String>,
}

impl AppState {
    pub fn new(store: Store, threads: usize, requests_per_second: f64) -> Self {
        let limits = std::sync::Arc::new(crate::auth::RateLimits::new(requests_per_second));
        let keys = std::sync::Arc::new(crate::auth::KeyCache::new());
        AppState {
            store,
            threads,
            limits,
            keys,
            public_url: None,
        }
    }

    pub async fn shop(&self, id: i64) -> Result<Shop, ApiError> {
        Ok(crate::shops::load(&self.store, id).await?)
    }
}

/// The OpenAPI document's frame; the paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "clv", description = "Customer value, kept fresh from a shop's orders."),
    modifiers(&BearerKeys),
    security(("api_key" = []))
)]
struct ApiDoc;

/// Every endpoint takes `Authorization: Bearer clv_…`.
struct BearerKeys;

impl utoipa::Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("clv_…")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The API routes and, from the same declarations, their OpenAPI document.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    let routes = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(shop))
        .routes(routes!(create_key))
        .routes(routes!(events))
        .routes(routes!(import))
        .routes(routes!(rescore))
        .routes(routes!(customers))
        .routes(routes!(customer))
        .routes(routes!(changes))
        .routes(routes!(metrics))
        .routes(routes!(products))
        .routes(routes!(segments, save_segment))
        .routes(routes!(saved_segment))
        .routes(routes!(set_shopify_secret))
        .routes(routes!(loyalty_program, set_loyalty_program))
        .routes(routes!(loyalty_backfill))
        .routes(routes!(loyalty_expire))
        .routes(routes!(loyalty_account))
        .routes(routes!(loyalty_liability))
        .routes(routes!(loyalty_redeem))
        .routes(routes!(referral_code))
        .routes(routes!(referral_claim, referral_list))
        .routes(routes!(referral_settle))
        .routes(routes!(referral_cancel));
    crate::journeys_api::routes(routes).split_for_parts()
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

pub fn router(state: AppState) -> Router {
    let (routes, document) = api();
    let document = std::sync::Arc::new(document);
    routes
        .merge(crate::dashboard::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(crate::journeys_api::public_routes())
        .route(
            "/webhooks/shopify/{shop}",
            axum::routing::post(shopify_webhook),
        )
        .route(
            "/api/openapi.json",
            get(move || async move { Json(document.as_ref().clone()) }),
        )
        .fallback(|| async { ApiError::not_found("no such endpoint: see /api/openapi.json") })
        .layer(axum::middleware::from_fn(refuse_nul_in_url))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(&state.store.pool).await {
        Ok(_) => "ready".into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// The body as JSON, or a 400 saying where it stops being JSON.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    match nul_at(&value, "") {
        Some(path) => Err(ApiError::invalid(
            path,
            "contains a NUL character (\\u0000), which no text field takes: remove it",
        )),
        None => Ok(value),
    }
}

/// The path of the first string (or key) in `value` with a NUL character: PostgreSQL's text
/// cannot hold one, so none is taken on either database.
fn nul_at(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| path.to_string()),
        Value::Array(items) => {
            (items.iter().enumerate()).find_map(|(i, v)| nul_at(v, &format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                return Some(at);
            }
            nul_at(v, &at)
        }),
        _ => None,
    }
}

/// Refuse a URL with a NUL character in it (only `%00` decodes to one), before any handler.
async fn refuse_nul_in_url(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri().to_string();
    if uri
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    {
        return ApiError::invalid(
            "url",
            "contains a NUL character (%00), which no parameter takes: remove it",
        )
        .into_response();
    }
    next.run(request).await
}

/// The body as a `T`, or a 422 at `field` showing the expected `shape`.
pub(crate) fn typed_body<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    field: &str,
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(json_body(body)?)
        .map_err(|_| ApiError::invalid(field, format!("send {shape}")))
}

/// What every mutating endpoint does around its work: refuse a key without `role`, then run
/// `handle` once per Idempotency-Key (a repeat with the same key and body gets the stored
/// response; a repeat while the first runs gets 409; the same key with another body, 422).
pub(crate) async fn mutation<F, Fut>(
    state: &AppState,
    caller: &Caller,
    role: Role,
    headers: &HeaderMap,
    body: &Bytes,
    handle: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, Value), ApiError>> + Send,
{
    caller.require(role)?;
    let Some(key) = headers.get("idempotency-key") else {
        let (status, value) = handle().await?;
        return Ok((status, Json(value)).into_response());
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid("Idempotency-Key", "is 1 to 255 visible ASCII characters")
        })?;
    let pool = &state.store.writer;
    let request = hex::encode(Sha256::digest(body));
    let shop = caller.shop.id;
    // A claim older than this belongs to a request that died with its process.
    const ABANDONED_AFTER: i64 = 60;
    let now = crate::store::now();
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (shop_id, idempotency_key, request_sha256, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop_id, idempotency_key) DO UPDATE SET created_at = excluded.created_at \
         WHERE idempotency_keys.status IS NULL AND idempotency_keys.created_at < $5 \
         AND idempotency_keys.request_sha256 = excluded.request_sha256",
    )
    .bind(shop)
    .bind(key)
    .bind(&request)
    .bind(now)
    .bind(now - ABANDONED_AFTER)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        let (hash, status, stored): (String, Option<i64>, Option<String>) = sqlx::query_as(
            "SELECT request_sha256, status, body FROM idempotency_keys WHERE shop_id = $1 AND idempotency_key = $2",
        )
        .bind(shop)
        .bind(key)
        .fetch_one(pool)
        .await?;
        if hash != request {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "was used for a different request: use a new key",
            ));
        }
        return match (status, stored) {
            (Some(status), Some(body)) => {
                let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                Ok((status, [("idempotent-replayed", "true")], Json(value)).into_response())
            }
            _ => Err(ApiError::new(
                StatusCode::CONFLICT,
                "in_flight",
                "a request with this Idempotency-Key is still running: retry in a moment",
            )),
        };
    }
    let outcome = handle().await;
    let (status, value) = match outcome {
        Ok(ok) => ok,
        // A 4xx is the answer to this request, and is kept; a 5xx may pass, so the key is freed.
        Err(e) if e.status.is_client_error() => (e.status, json!({ "error": e })),
        Err(e) => {
            let _ = sqlx::query(
                "DELETE FROM idempotency_keys WHERE shop_id = $1 AND idempotency_key = $2",
            )
            .bind(shop)
            .bind(key)
            .execute(pool)
            .await;
            return Err(e);
        }
    };
    sqlx::query("UPDATE idempotency_keys SET status = $3, body = $4 WHERE shop_id = $1 AND idempotency_key = $2")
        .bind(shop)
        .bind(key)
        .bind(status.as_u16() as i64)
        .bind(value.to_string())
        .execute(pool)
        .await?;
    Ok((status, Json(value)).into_response())
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    as_of: String,
    status: String,
    detail: Option<String>,
    customers: Option<i64>,
}

/// What the store holds for a shop: orders (not cancelled) and their total, cancellations,
/// refunds, customers and events applied.
#[derive(sqlx::FromRow)]
pub struct StoreTotals {
    pub orders: i64,
    pub order_total_minor: i64,
    pub cancelled: i64,
    pub refunds: i64,
    pub refunded_minor: i64,
    pub customers: i64,
    pub events: i64,
    pub rescores: i64,
    pub scheduled_rescores: i64,
}

/// The shop, what its store holds, and its last rescore.
#[utoipa::path(get, path = "/api/v1/shop", responses(
    (status = 200, description = "The shop", body = Object),
    (status = 401, description = "No or a wrong key", body = ApiError),
))]
async fn shop(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let s = &caller.shop;
    let run: Option<RunRow> = sqlx::query_as(
        "SELECT id, as_of, status, detail, customers FROM score_runs WHERE shop_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(s.id)
    .fetch_optional(&state.store.pool)
    .await?;
    let totals = totals(&state.store, s.id).await?;
    Ok(Json(json!({
        "id": s.id,
        "name": s.name,
        "timezone": s.timezone.name(),
        "currency": s.currency.code(),
        "orders": totals.orders,
        "order_total_minor": totals.order_total_minor,
        "cancelled": totals.cancelled,
        "refunds": totals.refunds,
        "refunded_minor": totals.refunded_minor,
        "customers": totals.customers,
        "events": totals.events,
        "rescores": totals.rescores,
        "scheduled_rescores": totals.scheduled_rescores,
        "last_rescore": run.map(|r| json!({
            "run_id": r.id, "as_of": r.as_of, "status": r.status, "detail": r.detail, "customers": r.customers,
        })),
    })))
}

/// What the store holds for `shop` now.
pub async fn totals(store: &Store, shop: i64) -> Result<StoreTotals, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT \
         live.orders, live.order_total_minor, back.refunds, back.refunded_minor, \
         (SELECT COUNT(*) FROM cancellations WHERE shop_id = $1) AS cancelled, \
         (SELECT COUNT(*) FROM customers WHERE shop_id = $1) AS customers, \
         (SELECT COUNT(*) FROM events WHERE shop_id = $1) AS events, \
         (SELECT COUNT(*) FROM score_runs WHERE shop_id = $1) AS rescores, \
         (SELECT COUNT(*) FROM job_claims WHERE shop_id = $1 AND job = 'rescore') AS scheduled_rescores \
         FROM (SELECT COUNT(*) AS refunds, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS refunded_minor \
               FROM refunds WHERE shop_id = $1) back, \
         (SELECT COUNT(*) AS orders, CAST(COALESCE(SUM(total_minor), 0) AS BIGINT) AS order_total_minor \
               FROM orders o WHERE o.shop_id = $1 AND ",
        crate::store::live!(),
        ") live"
    ))
    .bind(shop)
    .fetch_one(&store.pool)
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewKey {
    /// read, write or admin.
    role: String,
}

/// A new API key of the caller's shop (admin keys only); the key is shown once.
#[utoipa::path(post, path = "/api/v1/keys", request_body = NewKey, params(IdempotencyKey), responses(
    (status = 201, description = "The key", body = Object),
    (status = 403, description = "Not an admin key", body = ApiError),
    (status = 422, description = "Not a role", body = ApiError),
))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let request: NewKey = typed_body(
            &body,
            "role",
            "{\"role\": \"read\" | \"write\" | \"admin\"}",
        )?;
        let role = Role::parse(&request.role)
            .ok_or_else(|| ApiError::invalid("role", "is read, write or admin"))?;
        let key = crate::shops::new_key(&state.store, &caller.shop, role).await?;
        Ok((
            StatusCode::CREATED,
            json!({ "key": key, "role": role.name() }),
        ))
    })
    .await
}

/// Segment / RudderStack e-commerce v2 events, one or `{"batch": [...]}`; each applied once by
/// its messageId, the whole batch or nothing.
#[utoipa::path(post, path = "/api/v1/events", request_body = crate::events::EventBatch, params(IdempotencyKey), responses(
    (status = 200, description = "Applied now and seen before", body = crate::events::Applied),
    (status = 422, description = "An event is not valid: `field` says which", body = ApiError),
))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let events = crate::events::parse_body(&json_body(&body)?, &caller.shop)?;
        let applied = crate::events::apply(&state.store.writer, &caller.shop, &events).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(applied).unwrap_or_default(),
        ))
    })
    .await
}

/// Refit and rescore the shop from its stored history, as of a day (default today, shop time).
#[utoipa::path(post, path = "/api/v1/rescore", request_body(content = RescoreRequest, description = "Optional"), params(IdempotencyKey), responses(
    (status = 200, description = "The run: done, or insufficient with why", body = crate::rescore::Run),
    (status = 422, description = "Not a date", body = ApiError),
))]
async fn rescore(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let request: RescoreRequest = typed_body(&body, "as_of", "{\"as_of\": \"YYYY-MM-DD\"}")?;
        let as_of = match request.as_of {
            None => None,
            Some(d) => Some(d.parse::<chrono::NaiveDate>().map_err(|_| {
                ApiError::invalid("as_of", format!("`{d}` is not a date: use YYYY-MM-DD"))
            })?),
        };
        let run = crate::rescore::rescore(&state, &caller.shop, as_of).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(run).unwrap_or_default(),
        ))
    })
    .await
}

/// How an uploaded export is read: the CLI's reading options, by the same names.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    customer_col: Option<String>,
    date_col: Option<String>,
    amount_col: Option<String>,
    order_col: Option<String>,
    sku_col: Option<String>,
    quantity_col: Option<String>,
    price_col: Option<String>,
    delimiter: Option<String>,
    header: Option<bool>,
    /// `comma` or `point`; detected from the amounts when absent.
    decimal: Option<String>,
    date_format: Option<String>,
    #[serde(default)]
    strict: bool,
}

impl ImportQuery {
    fn options(self) -> Result<crate::imports::ImportOptions, ApiError> {
        let delimiter =
            match self.delimiter.as_deref() {
                None => None,
                Some(d) => Some(d.parse().map_err(|e: clv_data::DataError| {
                    ApiError::invalid("delimiter", e.to_string())
                })?),
            };
        let decimal = match self.decimal.as_deref() {
            None => None,
            Some("comma") => Some(clv_data::DecimalMark::Comma),
            Some("point") => Some(clv_data::DecimalMark::Point),
            Some(_) => return Err(ApiError::invalid("decimal", "is comma or point")),
        };
        let read = clv_data::ReadOptions {
            delimiter,
            has_header: self.header,
            columns: clv_data::ColumnSpec {
                customer: self.customer_col,
                date: self.date_col,
                amount: self.amount_col,
                order: self.order_col,
                sku: self.sku_col,
                quantity: self.quantity_col,
                price: self.price_col,
                description: None,
            },
            decimal,
            threads: 1,
            ..Default::default()
        };
        Ok(crate::imports::ImportOptions {
            read,
            date_format: self.date_format,
            strict: self.strict,
        })
    }
}

/// An order history export (CSV, TSV, `;` or whitespace-separated), read as `clv import` reads
/// it; all of it is written, or nothing.
#[utoipa::path(post, path = "/api/v1/imports", request_body(content = String, content_type = "text/csv"), params(ImportQuery, IdempotencyKey), responses(
    (status = 200, description = "What was read and written", body = crate::imports::ImportReport),
    (status = 422, description = "Refused, and why", body = ApiError),
))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let options = query.options()?;
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let report = crate::imports::import(
            &state.store.writer,
            &caller.shop,
            "upload".into(),
            body.to_vec(),
            options,
        )
        .await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(report).unwrap_or_default(),
        ))
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RescoreRequest {
    /// YYYY-MM-DD: the last day of history to use.
    as_of: Option<String>,
}

/// The `Idempotency-Key` header: a repeat with the same key gets the first answer.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation of a header `mutation` reads.
pub(crate) struct IdempotencyKey {
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Customers after this id (the previous page's `next`).
    pub after: Option<String>,
    pub limit: Option<i64>,
    /// Conditions on the last rescore's predictions, e.g. `p_alive < 0.3 and predicted_clv > 200`
    /// or `segment = "At risk"` (p_alive, expected_purchases, predicted_clv: < <= > >= = !=;
    /// segment, tier: = != a quoted name).
    #[serde(rename = "where")]
    #[param(rename = "where")]
    pub filter: Option<String>,
    /// Customers whose id starts with this, or whose email contains it.
    pub q: Option<String>,
}

/// The id of shop `$1`'s last run that is not still running (none: NULL).
macro_rules! last_finished_run {
    () => {
        "(SELECT MAX(id) FROM score_runs WHERE shop_id = $1 AND status <> 'running')"
    };
}
pub(crate) const LAST_FINISHED_RUN: &str = last_finished_run!();

#[derive(sqlx::FromRow, serde::Serialize)]
pub struct ListedCustomer {
    pub customer_id: String,
    pub email: Option<String>,
    pub p_alive: Option<f64>,
    pub expected_purchases: Option<f64>,
    pub predicted_clv: Option<f64>,
    pub segment: Option<String>,
    pub tier: Option<String>,
}

/// A page of `shop`'s customers in id order with their latest predictions, and the `after` of
/// the next page (none on the last).
pub async fn list_customers(
    store: &Store,
    shop: i64,
    page: &Page,
) -> Result<(Vec<ListedCustomer>, Option<String>), ApiError> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "is 1 to 1000"));
    }
    let conditions = match &page.filter {
        Some(text) if !text.trim().is_empty() => {
            crate::conditions::parse(text).map_err(|e| ApiError::invalid("where", e))?
        }
        _ => Vec::new(),
    };
    let search = page.q.as_deref().map(str::trim).unwrap_or_default();
    let mut sql = String::from(
        "SELECT c.customer_id, c.email, p.p_alive, p.expected_purchases, p.predicted_clv, p.segment, p.tier \
         FROM customers c LEFT JOIN predictions p ON p.shop_id = c.shop_id AND p.customer_id = c.customer_id AND p.run_id = ",
    );
    sql.push_str(LAST_FINISHED_RUN);
    sql.push_str(" WHERE c.shop_id = $1 AND c.customer_id > $2");
    if !search.is_empty() {
        // $4 is the text as a LIKE pattern with its own wildcards escaped.
        sql.push_str(" AND (LOWER(c.customer_id) LIKE $4 || '%' ESCAPE '\\' OR LOWER(COALESCE(c.email, '')) LIKE '%' || $4 || '%' ESCAPE '\\')");
    }
    let first = if search.is_empty() { 4 } else { 5 };
    sql.push_str(&crate::conditions::sql(&conditions, first));
    sql.push_str(" ORDER BY c.customer_id LIMIT $3");
    // Column names come from a fixed list and every value is bound.
    let mut query = sqlx::query_as::<_, ListedCustomer>(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .bind(page.after.clone().unwrap_or_default())
        .bind(limit);
    if !search.is_empty() {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.bind(escaped);
    }
    for c in &conditions {
        query = c.bind(query);
    }
    let rows = query.fetch_all(&store.pool).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.customer_id.clone()))
        .flatten();
    Ok((rows, next))
}

/// Customers in id order with their latest predictions, a page at a time.
#[utoipa::path(get, path = "/api/v1/customers", params(Page), responses(
    (status = 200, description = "A page; `next` is the `after` of the next one", body = Object),
    (status = 422, description = "A bad parameter", body = ApiError),
))]
async fn customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    let (rows, next) = list_customers(&state.store, caller.shop.id, &page).await?;
    Ok(Json(json!({ "customers": rows, "next": next })))
}

/// A customer's row with the last finished run and its prediction.
#[derive(sqlx::FromRow)]
struct Profile {
    email: Option<String>,
    traits: String,
    first_seen: i64,
    run_status: Option<String>,
    run_detail: Option<String>,
    run_as_of: Option<String>,
    scores: Option<String>,
    /// Rows written since pages came: the page of scores and the customer's line in it.
    page: Option<Vec<u8>>,
    page_slot: Option<i64>,
    score_columns: Option<String>,
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    predicted_clv: Option<f64>,
    segment: Option<String>,
    tier: Option<String>,
}

/// One customer: profile, orders, historic value, latest predictions or why they are blank.
#[utoipa::path(get, path = "/api/v1/customers/{id}", params(("id" = String, Path, description = "The customer's id")), responses(
    (status = 200, description = "The customer", body = Object),
    (status = 404, description = "No such customer in this shop", body = ApiError),
))]
async fn customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(profile(&state.store, &caller.shop, &id).await?))
}

/// A stored prediction as an object: its values named by the run's columns, with `typed` (the
/// values of [`crate::rescore::TYPED_SCORES`], which the array leaves out) in their places.
fn named(values: &str, columns: Option<&str>, typed: [Value; 4]) -> Option<Value> {
    let values: Vec<Value> = serde_json::from_str(values).ok()?;
    let names: Vec<String> = serde_json::from_str(columns?).ok()?;
    // Runs stored before the typed columns were left out hold every value in the array.
    let whole = values.len() == names.len();
    let mut values = values.into_iter();
    let mut object = serde_json::Map::new();
    for name in names {
        let slot = crate::rescore::TYPED_SCORES.iter().position(|n| *n == name);
        let value = match slot.filter(|_| !whole) {
            Some(k) => typed[k].clone(),
            None => values.next()?,
        };
        object.insert(name, value);
    }
    Some(Value::Object(object))
}

/// A typed prediction column's value as `clv score` writes it (its text: significant digits,
/// whole numbers without `.0`), or null.
fn score_number(x: Option<f64>) -> Value {
    let text = x.map(|x| clv_data::Values::Float(vec![x]).json_text(0));
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Customer `id` of `shop` as `GET /api/v1/customers/{id}` answers.
pub async fn profile(store: &Store, shop: &Shop, id: &str) -> Result<Value, ApiError> {
    let pool = &store.pool;
    // The profile, the last finished run and its prediction in one round trip.
    let found: Option<Profile> = sqlx::query_as(concat!(
        "SELECT c.email, c.traits, c.first_seen, r.status AS run_status, r.detail AS run_detail, r.as_of AS run_as_of, p.scores, r.score_columns, \
         p.score_row - (SELECT MAX(g.first_row) FROM prediction_pages g WHERE g.shop_id = p.shop_id AND g.run_id = p.run_id AND g.first_row <= p.score_row) AS page_slot, \
         (SELECT g.scores FROM prediction_pages g WHERE g.shop_id = p.shop_id AND g.run_id = p.run_id AND g.first_row <= p.score_row ORDER BY g.first_row DESC LIMIT 1) AS page, \
         p.p_alive, p.expected_purchases, p.predicted_clv, p.segment, p.tier \
         FROM customers c LEFT JOIN score_runs r ON r.id = ",
        last_finished_run!(),
        " LEFT JOIN predictions p ON p.shop_id = c.shop_id AND p.run_id = r.id AND p.customer_id = c.customer_id \
         WHERE c.shop_id = $1 AND c.customer_id = $2",
    ))
    .bind(shop.id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(Profile {
        email,
        traits,
        first_seen,
        run_status,
        run_detail,
        run_as_of,
        scores,
        page,
        page_slot,
        score_columns,
        p_alive,
        expected_purchases,
        predicted_clv,
        segment,
        tier,
    }) = found
    else {
        return Err(ApiError::not_found(format!(
            "no customer `{id}` in this shop"
        )));
    };
    let orders: Vec<(String, i64, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT o.order_id, o.placed_at, o.total_minor, c.cancelled_at, \
         CAST(COALESCE((SELECT SUM(r.amount_minor) FROM refunds r WHERE r.shop_id = o.shop_id AND r.order_id = o.order_id), 0) AS BIGINT) \
         FROM orders o LEFT JOIN cancellations c ON c.shop_id = o.shop_id AND c.order_id = o.order_id \
         WHERE o.shop_id = $1 AND o.customer_id = $2 ORDER BY o.placed_at, o.order_id",
    )
    .bind(shop.id)
    .bind(id)
    .fetch_all(pool)
    .await?;
    // Historic value counts every order as it is now: new orders show at once, before a rescore.
    let historic: i64 = orders
        .iter()
        .filter(|o| o.3.is_none())
        .map(|o| (o.2 - o.4).max(0))
        .sum();
    let time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map(|d| d.with_timezone(&shop.timezone).to_rfc3339())
    };
    let orders: Vec<Value> = orders
        .iter()
        .map(|(order_id, at, total, cancelled, refunded)| {
            json!({ "order_id": order_id, "placed_at": time(*at), "total_minor": total,
                    "refunded_minor": refunded, "cancelled": cancelled.is_some() })
        })
        .collect();
    let typed = [
        Value::String(id.to_string()),
        score_number(p_alive),
        score_number(expected_purchases),
        score_number(predicted_clv),
    ];
    // Rows written since pages came keep their place in the run's pages, older rows the array.
    let scores = match (page, page_slot) {
        (Some(page), Some(slot)) => crate::rescore::page_row(&page, slot as usize),
        _ => scores,
    };
    let predictions = scores.and_then(|s| named(&s, score_columns.as_deref(), typed));
    let blank_because = match (&predictions, run_status.as_deref()) {
        (Some(_), _) => None,
        (None, None) => Some("no rescore has run yet: POST /api/v1/rescore".to_string()),
        (None, Some("done")) => {
            Some("the customer's orders arrived after the last rescore".to_string())
        }
        (None, Some(_)) => Some(format!(
            "the last rescore could not fit: {}",
            run_detail.unwrap_or_default()
        )),
    };
    Ok(json!({
        "customer_id": id,
        "email": email,
        "traits": serde_json::from_str::<Value>(&traits).unwrap_or(Value::Null),
        "first_seen": time(first_seen),
        "currency": shop.currency.code(),
        "historic_value_minor": historic,
        "orders": orders,
        "predictions_as_of": predictions.as_ref().and(run_as_of),
        "predictions": predictions,
        "segment": segment,
        "tier": tier,
        "predictions_blank_because": blank_because,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ShopifySecret {
    /// The app's client secret, which Shopify signs webhooks with.
    secret: String,
}

/// Set the secret Shopify webhooks of this shop are signed with (admin keys only). Webhooks go
/// to `/webhooks/shopify/{shop id}` (the id is in `GET /api/v1/shop`).
#[utoipa::path(post, path = "/api/v1/integrations/shopify", request_body = ShopifySecret, params(IdempotencyKey), responses(
    (status = 200, description = "Set", body = Object),
    (status = 403, description = "Not an admin key", body = ApiError),
))]
async fn set_shopify_secret(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let request: ShopifySecret = typed_body(&body, "secret", "{\"secret\": \"…\"}")?;
        if request.secret.len() < 16 {
            return Err(ApiError::invalid(
                "secret",
                "is the app's client secret (at least 16 characters)",
            ));
        }
        crate::shopify::set_secret(&state.store.writer, caller.shop.id, &request.secret).await?;
        let url = format!("/webhooks/shopify/{}", caller.shop.id);
        Ok((StatusCode::OK, json!({ "webhook_path": url })))
    })
    .await
}

/// A Shopify webhook delivery: the signature is checked against the shop's secret before the
/// body is even parsed; each delivery is applied once (`X-Shopify-Webhook-Id`).
async fn shopify_webhook(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "no such shop, or it has no Shopify secret",
        )
    };
    let id: i64 = shop.parse().map_err(|_| unknown())?;
    let secret = crate::shopify::secret(&state.store.pool, id)
        .await?
        .ok_or_else(unknown)?;
    crate::shopify::authenticate(&secret, &headers, &body)?;
    let shop = state.shop(id).await?;
    let payload = json_body(&body)?;
    let events = crate::shopify::events(&shop, &headers, &payload)?;
    let applied = crate::events::apply(&state.store.writer, &shop, &events).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(applied).unwrap_or_default()),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// The P(alive) threshold (default 0.3): customers at or above it in the run before, below
    /// it now.
    p_alive_below: Option<f64>,
}

#[derive(sqlx::FromRow, serde::Serialize)]
struct Change {
    customer_id: String,
    p_alive_before: f64,
    p_alive: f64,
    predicted_clv: Option<f64>,
}

/// Customers whose P(alive) fell below a threshold between the last two finished rescores, the
/// most valuable first (at most 1,000): who to win back now.
#[utoipa::path(get, path = "/api/v1/changes", params(ChangesQuery), responses(
    (status = 200, description = "The runs compared and the customers who crossed", body = Object),
    (status = 422, description = "A bad threshold", body = ApiError),
))]
async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let threshold = query.p_alive_below.unwrap_or(0.3);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::invalid(
            "p_alive_below",
            "is a probability, 0 to 1",
        ));
    }
    let shop = caller.shop.id;
    let runs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, as_of FROM score_runs WHERE shop_id = $1 AND status = 'done' ORDER BY id DESC LIMIT 2",
    )
    .bind(shop)
    .fetch_all(&state.store.pool)
    .await?;
    let [(now, now_as_of), (before, before_as_of)] = &runs[..] else {
        return Ok(Json(json!({
            "customers": [],
            "why_empty": "changes need two finished rescores: POST /api/v1/rescore again later",
        })));
    };
    let crossed: Vec<Change> = sqlx::query_as(
        "SELECT cur.customer_id, prev.p_alive AS p_alive_before, cur.p_alive, cur.predicted_clv \
         FROM predictions cur JOIN predictions prev ON prev.shop_id = cur.shop_id \
           AND prev.customer_id = cur.customer_id AND prev.run_id = $3 \
         WHERE cur.shop_id = $1 AND cur.run_id = $2 AND cur.p_alive < $4 AND prev.p_alive >= $4 \
         ORDER BY cur.predicted_clv DESC, cur.customer_id LIMIT 1000",
    )
    .bind(shop)
    .bind(now)
    .bind(before)
    .bind(threshold)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(json!({
        "from_as_of": before_as_of,
        "to_as_of": now_as_of,
        "customers": crossed,
    })))
}

/// The shop metrics, cohort retention and monthly revenue and active customers, as of the last
/// rescore (which computes them from the same history it fits).
#[utoipa::path(get, path = "/api/v1/metrics", responses(
    (status = 200, description = "The metrics, or why there are none yet", body = Object),
))]
async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        match crate::segments::metrics(&state.store, caller.shop.id).await? {
            Some((as_of, m)) => {
                json!({ "as_of": as_of, "metrics": m["metrics"], "months": m["months"] })
            }
            None => {
                json!({ "why_empty": "metrics are computed by a rescore: POST /api/v1/rescore" })
            }
        },
    ))
}

/// RFM segments (with what to do about each), value tiers and saved segments, with their
/// customers and predicted CLV as of the last rescore.
#[utoipa::path(get, path = "/api/v1/segments", responses(
    (status = 200, description = "The segments", body = crate::segments::Segments),
))]
async fn segments(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::segments::Segments>, ApiError> {
    Ok(Json(
        crate::segments::segments(&state.store, caller.shop.id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewSegment {
    name: String,
    /// As `GET /api/v1/customers?where=` takes them, e.g. `p_alive < 0.3 and predicted_clv > 200`.
    conditions: String,
}

/// Save a segment: a name for conditions on the predictions. Its members are
/// `GET /api/v1/customers?where=CONDITIONS`, as of each rescore.
#[utoipa::path(post, path = "/api/v1/segments", request_body = NewSegment, params(IdempotencyKey), responses(
    (status = 201, description = "Saved", body = crate::segments::Saved),
    (status = 409, description = "The name is taken", body = ApiError),
    (status = 422, description = "A bad name or condition", body = ApiError),
))]
async fn save_segment(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let request: NewSegment = typed_body(
            &body,
            "conditions",
            "{\"name\": \"…\", \"conditions\": \"p_alive < 0.3\"}",
        )?;
        let saved = crate::segments::save(
            &state.store,
            caller.shop.id,
            &request.name,
            &request.conditions,
        )
        .await?;
        Ok((
            StatusCode::CREATED,
            serde_json::to_value(saved).unwrap_or_default(),
        ))
    })
    .await
}

/// A saved segment and its size now.
#[utoipa::path(get, path = "/api/v1/segments/{id}", params(("id" = i64, Path, description = "The saved segment's id")), responses(
    (status = 200, description = "The segment", body = crate::segments::Saved),
    (status = 404, description = "No such segment in this shop", body = ApiError),
))]
async fn saved_segment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::segments::Saved>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no saved segment `{id}` in this shop")))?;
    Ok(Json(
        crate::segments::saved(&state.store, caller.shop.id, id).await?,
    ))
}

/// Each product's repeat-purchase cycle (median and quartile gaps between a customer's repeat
/// purchases), the replenishment reminders due in the next 14 days, and the products bought
/// together (association rules with support, confidence and lift), as of the last rescore, as
/// `clv replenish` and `clv cross-sell` compute them.
#[utoipa::path(get, path = "/api/v1/products", responses(
    (status = 200, description = "Cycles, reminders and rules, or why there are none", body = Object),
))]
async fn products(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        match crate::segments::products(&state.store, caller.shop.id).await? {
            Some((as_of, mut p)) => {
                p["as_of"] = json!(as_of);
                p
            }
            None => {
                json!({ "why_empty": "products come from order lines: send properties.products in Order Completed events, Shopify line_items, or import with sku_col; then rescore" })
            }
        },
    ))
}

/// The shop's loyalty program (earn rate, pending days, expiry, tiers, rewards).
#[utoipa::path(get, path = "/api/v1/loyalty/program", responses(
    (status = 200, description = "The program", body = Object),
    (status = 404, description = "No program yet", body = ApiError),
))]
async fn loyalty_program(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let program = crate::loyalty::program(&state.store, caller.shop.id).await?;
    Ok(Json(serde_json::to_value(program).unwrap_or_default()))
}

/// Set the loyalty program (admin keys). Orders from now on earn by it; rows already written
/// keep the rate they were earned at. `POST /api/v1/loyalty/backfill` earns on past orders.
#[utoipa::path(put, path = "/api/v1/loyalty/program", request_body = Object, params(IdempotencyKey), responses(
    (status = 200, description = "Saved", body = Object),
    (status = 403, description = "Not an admin key", body = ApiError),
    (status = 422, description = "A field the program does not have, or a rule that cannot hold", body = ApiError),
))]
async fn set_loyalty_program(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let program: clv_loyalty::Program =
            serde_json::from_value(json_body(&body)?).map_err(|e| {
                ApiError::invalid(
                    "program",
                    format!("{e}: send {{\"points_per_unit\": 1, \"pending_days\": 30, \"tiers\": [], \"rewards\": []}} (README, Loyalty)"),
                )
            })?;
        crate::loyalty::save_program(&state.store, caller.shop.id, &program).await?;
        Ok((StatusCode::OK, serde_json::to_value(program).unwrap_or_default()))
    })
    .await
}

/// Earn on every order already stored (admin keys): the rows live ingest would have written,
/// each once, so running it again writes nothing. No messages are sent.
#[utoipa::path(post, path = "/api/v1/loyalty/backfill", request_body(content = Object, description = "Empty"), params(IdempotencyKey), responses(
    (status = 200, description = "Orders read and ledger rows written", body = Object),
    (status = 404, description = "No program yet", body = ApiError),
))]
async fn loyalty_backfill(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        crate::loyalty::program(&state.store, caller.shop.id).await?;
        let (orders, rows) = crate::loyalty::backfill(&state.store, caller.shop.id).await?;
        Ok((
            StatusCode::OK,
            json!({ "orders": orders, "rows_written": rows }),
        ))
    })
    .await
}

/// What the program owes and has cost: outstanding points and their money value at the best cash
/// reward, breakage, rewards issued; members (customers with points) against the other
/// customers by orders per customer and mean predicted CLV.
#[utoipa::path(get, path = "/api/v1/loyalty/liability", responses(
    (status = 200, description = "The program's economics", body = crate::loyalty::Economics),
    (status = 404, description = "No program yet", body = ApiError),
))]
async fn loyalty_liability(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::loyalty::Economics>, ApiError> {
    let now = crate::store::now();
    Ok(Json(
        crate::loyalty::economics(&state.store, caller.shop.id, now).await?,
    ))
}

/// Write the expiry rows due now (the server also sweeps when it starts and every hour).
#[utoipa::path(post, path = "/api/v1/loyalty/expire", request_body(content = Object, description = "Empty"), params(IdempotencyKey), responses(
    (status = 200, description = "Expiry rows written", body = Object),
    (status = 404, description = "No program yet", body = ApiError),
))]
async fn loyalty_expire(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let rows = crate::loyalty::expire(&state.store, &caller.shop, crate::store::now()).await?;
        Ok((StatusCode::OK, json!({ "rows_written": rows })))
    })
    .await
}

/// A customer's points (spendable, pending, earned, redeemed, expired: each a sum of the
/// ledger), tier, ledger rows and rewards.
#[utoipa::path(get, path = "/api/v1/customers/{id}/loyalty", params(("id" = String, Path, description = "The customer's id")), responses(
    (status = 200, description = "The account", body = crate::loyalty::Account),
    (status = 404, description = "No program, or no such customer", body = ApiError),
))]
async fn loyalty_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::loyalty::Account>, ApiError> {
    known_customer(&state.store, caller.shop.id, &id).await?;
    Ok(Json(
        crate::loyalty::account(&state.store, caller.shop.id, &id).await?,
    ))
}

pub(crate) async fn known_customer(store: &Store, shop: i64, id: &str) -> Result<(), ApiError> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM customers WHERE shop_id = $1 AND customer_id = $2")
            .bind(shop)
            .bind(id)
            .fetch_optional(&store.pool)
            .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("no such customer in this shop")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Redemption {
    /// A reward id of the program's catalogue.
    reward: String,
    /// The client's key for this redemption: a retry with the same key gets the same code and
    /// spends nothing more.
    idempotency_key: String,
}

/// Spend points on a reward: the points are taken and a unique code issued together, once per
/// `idempotency_key`; concurrent redemptions never spend more than the balance.
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/redemptions", request_body = Redemption, params(("id" = String, Path, description = "The customer's id"), IdempotencyKey), responses(
    (status = 201, description = "Redeemed", body = crate::loyalty::Issued),
    (status = 200, description = "Redeemed before with this key", body = crate::loyalty::Issued),
    (status = 404, description = "No program, or no such customer", body = ApiError),
    (status = 409, description = "Not enough spendable points", body = ApiError),
    (status = 422, description = "No such reward, or a bad body", body = ApiError),
))]
async fn loyalty_redeem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let request: Redemption = typed_body(
            &body,
            "reward",
            "{\"reward\": \"REWARD ID\", \"idempotency_key\": \"…\"}",
        )?;
        if request.idempotency_key.is_empty() || request.idempotency_key.len() > 255 {
            return Err(ApiError::invalid(
                "idempotency_key",
                "is 1 to 255 characters",
            ));
        }
        known_customer(&state.store, caller.shop.id, &id).await?;
        let (status, issued) = crate::loyalty::redeem(
            &state.store,
            caller.shop.id,
            &id,
            &request.reward,
            &request.idempotency_key,
        )
        .await?;
        Ok((status, serde_json::to_value(issued).unwrap_or_default()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use clv_data::{Table, Values};
    use serde_json::Value;

    /// A prediction stored lean (typed columns apart) or whole (runs from before) reads back as
    /// the row `clv score --format json` writes.
    #[test]
    fn stored_predictions_read_back_as_clv_score_rows() {
        fn check(table: Table<'_>) {
            let names = serde_json::to_string(&table.names()).unwrap();
            let lean = table.json_value_rows_except(&crate::rescore::TYPED_SCORES);
            let (whole, want) = (table.json_value_rows(), table.json_rows());
            let float = |name, row: usize| match table.column(name) {
                Some(Values::Float(v)) => Some(v[row]),
                _ => None,
            };
            let Some(Values::Text(ids)) = table.column("customer_id") else {
                panic!()
            };
            for row in 0..table.rows() {
                let typed = [
                    Value::String(ids[row].to_string()),
                    super::score_number(float("p_alive", row)),
                    super::score_number(float("expected_purchases", row)),
                    super::score_number(float("predicted_clv", row)),
                ];
                let want: Value = serde_json::from_str(&want[row]).unwrap();
                let got = super::named(&lean[row], Some(&names), typed.clone()).unwrap();
                assert_eq!(got, want, "lean row {row}");
                let old = super::named(&whole[row], Some(&names), typed.map(|_| Value::Null));
                assert_eq!(old.unwrap(), want, "whole row {row}");
            }
        }
        let ids = || Values::Text(vec!["c1".into(), "Müller \"2\"".into(), "c3".into()]);
        let p_alive = || Values::Float(vec![0.744081086286123, 1.0, f64::NAN]);
        let expected = || Values::Float(vec![1.0 / 3.0, 12345.678901234567, 0.0]);
        check(
            Table::new()
                .with("customer_id", ids())
                .with("frequency", Values::Int(vec![2, 0, 7]))
                .with("p_alive", p_alive())
                .with("p_alive_lower", Values::Float32(vec![0.5, 0.25, 0.0]))
                .with("expected_purchases", expected())
                .with("predicted_clv", Values::Float(vec![1e-7, 2.5e12, 3.0]))
                .with(
                    "expected_next_order_date",
                    Values::MaybeDate(vec![Some(0), None, Some(86_400)]),
                ),
        );
        // Without a spend model there is no predicted_clv column to put back.
        check(
            Table::new()
                .with("customer_id", ids())
                .with("p_alive", p_alive())
                .with("expected_purchases", expected()),
        );
    }
}

/// A customer's referral code, made on first ask; the shop builds its link from it.
#[utoipa::path(get, path = "/api/v1/customers/{id}/referral", params(("id" = String, Path, description = "The customer's id")), responses(
    (status = 200, description = "The code", body = Object),
    (status = 404, description = "No referral program, or no such customer", body = ApiError),
))]
async fn referral_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let code = crate::referrals::code(&state.store, caller.shop.id, &id).await?;
    Ok(Json(json!({ "customer_id": id, "code": code })))
}

/// A new customer claims a referral (at sign-up or before checkout): screened now (self-referral,
/// already a customer, too many from one source) and stored pending, or refused with the reason.
/// It pays both sides when the first order after it is past the program's approval window.
#[utoipa::path(post, path = "/api/v1/referrals", request_body = crate::referrals::ClaimRequest, params(IdempotencyKey), responses(
    (status = 201, description = "Stored: pending, or refused with the reason", body = crate::referrals::Referral),
    (status = 200, description = "Claimed before with this code", body = crate::referrals::Referral),
    (status = 404, description = "No referral program, or no such code", body = ApiError),
    (status = 409, description = "Referred with another code already", body = ApiError),
))]
async fn referral_claim(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let request: crate::referrals::ClaimRequest = typed_body(
            &body,
            "referral",
            "{\"code\": \"REFERRER'S CODE\", \"customer_id\": \"…\", \"source\": \"IP or device\"}",
        )?;
        let (status, stored) =
            crate::referrals::claim(&state.store, caller.shop.id, &request, crate::store::now())
                .await?;
        Ok((status, serde_json::to_value(stored).unwrap_or_default()))
    })
    .await
}

/// The shop's referrals, newest first, with their status and reasons.
#[utoipa::path(get, path = "/api/v1/referrals", responses(
    (status = 200, description = "The referrals", body = [crate::referrals::Referral]),
))]
async fn referral_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<crate::referrals::Referral>>, ApiError> {
    Ok(Json(
        crate::referrals::list(&state.store, caller.shop.id).await?,
    ))
}

/// Settle the referrals due now (the server also does it hourly): both sides paid once, or
/// refused with the reason.
#[utoipa::path(post, path = "/api/v1/referrals/settle", request_body(content = Object, description = "Empty"), params(IdempotencyKey), responses(
    (status = 200, description = "How many were paid and refused", body = Object),
    (status = 404, description = "No referral program", body = ApiError),
))]
async fn referral_settle(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let (paid, refused) =
            crate::referrals::settle_due(&state.store, caller.shop.id, crate::store::now()).await?;
        Ok((StatusCode::OK, json!({ "paid": paid, "refused": refused })))
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Cancellation {
    /// Why, as the referral will show it.
    reason: String,
}

/// Cancel a pending referral (admin keys), with the reason.
#[utoipa::path(post, path = "/api/v1/referrals/{referee}/cancel", request_body = Cancellation, params(("referee" = String, Path, description = "The referred customer's id"), IdempotencyKey), responses(
    (status = 200, description = "Cancelled", body = crate::referrals::Referral),
    (status = 403, description = "Not an admin key", body = ApiError),
    (status = 404, description = "No referral for this customer", body = ApiError),
    (status = 409, description = "Paid, refused or cancelled already", body = ApiError),
))]
async fn referral_cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(referee): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let request: Cancellation = typed_body(&body, "reason", "{\"reason\": \"…\"}")?;
        let stored = crate::referrals::cancel(
            &state.store,
            caller.shop.id,
            &referee,
            &request.reason,
            crate::store::now(),
        )
        .await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(stored).unwrap_or_default(),
        ))
    })
    .await
}
