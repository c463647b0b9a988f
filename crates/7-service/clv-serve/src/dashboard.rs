//! The operator dashboard at `/`: server-rendered pages (askama templates in `templates/`) with
//! htmx (vendored in `assets/`, served by this binary) for the live search and the segment
//! preview, and charts drawn by the report's SVG code. Login by email and password; a session
//! cookie (HttpOnly, SameSite=Lax) and a CSRF token every form and htmx request echoes.

use crate::api::{AppState, Page};
use crate::error::ApiError;
use crate::users::{same_secret, Operator};
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use clv_report::html::{block, number, Bars, Block, Lines};
use serde::Deserialize;
use serde_json::Value;

const SESSION_COOKIE: &str = "clv_session";
const LOGIN_COOKIE: &str = "clv_login";

/// The dashboard's routes (they take the same state as the API).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/customers", get(customers))
        .route("/customer-rows", get(customer_rows))
        .route("/customers/{id}", get(customer))
        .route("/segments", get(segments).post(save_segment))
        .route("/segment-preview", get(segment_preview))
        .route(
            "/assets/htmx.min.js",
            get(|| asset("text/javascript", include_str!("../assets/htmx.min.js"))),
        )
        .route("/assets/dashboard.css", get(|| asset("text/css", style())))
        .route(
            "/favicon.ico",
            get(|| asset("image/svg+xml", include_str!("../assets/favicon.svg"))),
        )
}

fn style() -> &'static str {
    static STYLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STYLE.get_or_init(|| {
        format!(
            "{}{}",
            clv_report::html::STYLE,
            include_str!("../assets/dashboard.css")
        )
    })
}

async fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A page, with the headers every page carries: no framing, scripts only from this origin.
fn page(template: impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            [
                (header::X_FRAME_OPTIONS, "DENY"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response()
        }
    }
}

/// The value of cookie `name` in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite, for the whole site; Secure behind a TLS proxy.
fn set_cookie(
    name: &str,
    value: &str,
    max_age: i64,
    same_site: cookie::SameSite,
    headers: &HeaderMap,
) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes() == b"https");
    let c = cookie::Cookie::build((name, value))
        .http_only(true)
        .same_site(same_site)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Not logged in: to the login page (an htmx request is told to go there as a whole page).
pub struct ToLogin(bool);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        if self.0 {
            return ([("hx-redirect", "/login")], StatusCode::UNAUTHORIZED).into_response();
        }
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ToLogin;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ToLogin> {
        let htmx = parts.headers.contains_key("hx-request");
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(ToLogin(htmx))?;
        match crate::users::session(&state.store, &token).await {
            Ok(Some(operator)) => Ok(operator),
            _ => Err(ToLogin(htmx)),
        }
    }
}

/// Whether a state-changing request carries the session's CSRF token (form field or
/// `X-CSRF-Token`).
fn csrf_ok(operator: &Operator, form: Option<&str>, headers: &HeaderMap) -> bool {
    let sent = form.or_else(|| headers.get("x-csrf-token")?.to_str().ok());
    sent.is_some_and(|token| same_secret(token, &operator.csrf))
}

/// The answer to a form without the session's CSRF token.
fn stale_form() -> Response {
    (
        StatusCode::FORBIDDEN,
        "this form is stale or came from another site: reload the page and try again",
    )
        .into_response()
}

/// What every page's frame shows.
struct Frame {
    shop: String,
    email: String,
    csrf: String,
    page: &'static str,
}

impl Frame {
    fn new(o: &Operator, page: &'static str) -> Frame {
        Frame {
            shop: o.shop.name.clone(),
            email: o.email.clone(),
            csrf: o.csrf.clone(),
            page,
        }
    }
}

/// The shop's money, from minor units, with its currency code.
fn money(o: &Operator, minor: i64) -> String {
    let digits = o.shop.minor_digits();
    format!(
        "{} {}",
        number(crate::money::to_major(minor, digits), digits as usize),
        o.shop.currency.code()
    )
}

fn metric(label: &str, value: String, note: &str) -> (String, String, String) {
    (label.to_string(), value, note.to_string())
}

/// What a page says about a refused request: the field at fault, then why.
fn said(e: ApiError) -> String {
    match e.field {
        Some(field) => format!("{field}: {}", e.message),
        None => e.message,
    }
}

fn error_page(e: ApiError) -> Response {
    (e.status, e.message).into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

fn login_form(headers: &HeaderMap, email: String, error: Option<String>) -> Response {
    // Login CSRF: the form's token must match this cookie, which another site cannot set.
    let token = crate::users::random_secret(32);
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &token,
        3600,
        cookie::SameSite::Strict,
        headers,
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut response = page(LoginPage {
        csrf: token,
        email,
        error,
    });
    *response.status_mut() = status;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

async fn login_page(headers: HeaderMap) -> Response {
    login_form(&headers, String::new(), None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.csrf) {
        return login_form(
            &headers,
            form.email,
            Some("The login form expired: try again.".into()),
        );
    }
    match crate::users::login(&state.store, &form.email, &form.password).await {
        Ok(Some(token)) => {
            let mut response = Redirect::to("/").into_response();
            let session = set_cookie(
                SESSION_COOKIE,
                &token,
                crate::users::SESSION_SECONDS,
                cookie::SameSite::Lax,
                &headers,
            );
            response.headers_mut().append(header::SET_COOKIE, session);
            response
        }
        Ok(None) => login_form(
            &headers,
            form.email,
            Some("Wrong email or password.".into()),
        ),
        Err(e) => {
            tracing::error!(error = %e, "login");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer: try again",
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&operator, form.csrf.as_deref(), &headers) {
        return stale_form();
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = crate::users::logout(&state.store, &token).await {
            tracing::warn!(error = %e, "logout");
        }
    }
    let mut response = Redirect::to("/login").into_response();
    let expired = set_cookie(SESSION_COOKIE, "", 0, cookie::SameSite::Lax, &headers);
    response.headers_mut().append(header::SET_COOKIE, expired);
    response
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    as_of_line: String,
    headline: String,
    blank_because: Option<String>,
    /// Title, explanation, chart HTML.
    charts: Vec<(String, String, String)>,
}

async fn overview(State(state): State<AppState>, operator: Operator) -> Response {
    match overview_page(&state, &operator).await {
        Ok(p) => page(p),
        Err(e) => error_page(e),
    }
}

async fn overview_page(state: &AppState, o: &Operator) -> Result<OverviewPage, ApiError> {
    let store = &state.store;
    let totals = crate::api::totals(store, o.shop.id).await?;
    let stored = crate::segments::metrics(store, o.shop.id).await?;
    let at_risk = crate::conditions::parse("p_alive < 0.3").unwrap_or_default();
    let at_risk = crate::segments::count(store, o.shop.id, &at_risk).await?;
    let tiers = crate::segments::tiers(store, o.shop.id).await?;
    let predicted: f64 = tiers.iter().filter_map(|t| t.predicted_clv).sum();
    let mut items = vec![
        metric(
            "customers",
            number(totals.customers as f64, 0),
            "in the store now",
        ),
        metric("orders", number(totals.orders as f64, 0), "not cancelled"),
        metric(
            "revenue",
            money(o, totals.order_total_minor - totals.refunded_minor),
            "net of refunds",
        ),
    ];
    let mut charts = Vec::new();
    let mut as_of_line = "No rescore has run yet.".to_string();
    if let Some((as_of, m)) = &stored {
        as_of_line =
            format!("Live totals; metrics, trends and predictions as of the rescore of {as_of}.");
        if let Ok(metrics) =
            serde_json::from_value::<clv_summary::ShopMetrics>(m["metrics"].clone())
        {
            items.push(metric(
                "repeat customers",
                format!("{}%", number(metrics.repeat_purchase_rate * 100.0, 1)),
                "ordered more than once",
            ));
            if let Some(aov) = metrics.average_order_value {
                items.push(metric("average order", number(aov, 2), "net, per order"));
            }
            if let Some(rate) = metrics.retention.retention_rate {
                items.push(metric(
                    "retention",
                    format!("{}%", number(rate * 100.0, 1)),
                    &format!(
                        "of the previous {} days' buyers",
                        metrics.retention.window_days
                    ),
                ));
            }
            let (heatmap, period) = clv_report::page::cohort_heatmap(&metrics);
            charts.push((
                "Cohort retention".to_string(),
                format!("Customers by the {period} of their first order: the share ordering in each {period} after it."),
                block(&heatmap, 3),
            ));
        }
        if let Ok(months) = serde_json::from_value::<Vec<clv_summary::Month>>(m["months"].clone()) {
            let x: Vec<f64> = (0..months.len()).map(|i| i as f64).collect();
            let first = months.first().map(|m| m.month.clone()).unwrap_or_default();
            let revenue = Lines {
                title: "Revenue by month".into(),
                x_label: format!("months since {first}"),
                y_label: "net revenue".into(),
                x: x.clone(),
                series: vec![("revenue".into(), months.iter().map(|m| m.revenue).collect())],
            };
            let active = Lines {
                title: "Customers ordering, by month".into(),
                x_label: format!("months since {first}"),
                y_label: "customers".into(),
                x,
                series: vec![
                    (
                        "active".into(),
                        months.iter().map(|m| m.active_customers as f64).collect(),
                    ),
                    (
                        "new".into(),
                        months.iter().map(|m| m.new_customers as f64).collect(),
                    ),
                ],
            };
            charts.insert(
                0,
                (
                    "Trend".to_string(),
                    format!("Net revenue and customers ordering in each month from {first}."),
                    format!(
                        "{}{}",
                        block(&Block::Lines(revenue), 1),
                        block(&Block::Lines(active), 2)
                    ),
                ),
            );
        }
    }
    if !tiers.is_empty() {
        items.push(metric(
            "predicted CLV",
            number(predicted, 0),
            "all customers, next year, discounted",
        ));
        items.push(metric(
            "at risk",
            number(at_risk as f64, 0),
            "P(alive) below 0.3",
        ));
    }
    let blank_because = match &stored {
        None => Some("Predictions appear after the first rescore (POST /api/v1/rescore, or clv serve --rescore-every 24h).".to_string()),
        Some(_) if tiers.is_empty() => last_run_detail(state, o.shop.id).await?,
        Some(_) => None,
    };
    Ok(OverviewPage {
        frame: Frame::new(o, "overview"),
        as_of_line,
        headline: block(&Block::Metrics(items), 0),
        blank_because,
        charts,
    })
}

/// Why the last rescore left predictions blank.
async fn last_run_detail(state: &AppState, shop: i64) -> Result<Option<String>, ApiError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, detail FROM score_runs WHERE shop_id = $1 AND status <> 'running' ORDER BY id DESC LIMIT 1",
    )
    .bind(shop)
    .fetch_optional(&state.store.pool)
    .await?;
    Ok(row.map(|(status, detail)| {
        format!("No predictions ({status}): {}", detail.unwrap_or_default())
    }))
}

/// A customer row as the list shows it.
struct Row {
    id: String,
    link: String,
    email: String,
    p_alive: String,
    expected: String,
    clv: String,
    segment: String,
    tier: String,
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "customer_rows.html")]
struct RowsPart {
    rows: Vec<Row>,
    /// The query string of the next page.
    next: Option<String>,
    error: Option<String>,
}

async fn rows(state: &AppState, o: &Operator, query: &Page) -> RowsPart {
    let page = Page {
        limit: Some(50),
        after: query.after.clone(),
        filter: query.filter.clone(),
        q: query.q.clone(),
    };
    let shown = |x: Option<f64>, digits| x.map_or("–".to_string(), |v| number(v, digits));
    match crate::api::list_customers(&state.store, o.shop.id, &page).await {
        Ok((listed, next)) => RowsPart {
            rows: listed
                .into_iter()
                .map(|c| Row {
                    link: encode(&c.customer_id),
                    id: c.customer_id,
                    email: c.email.unwrap_or_default(),
                    p_alive: shown(c.p_alive, 3),
                    expected: shown(c.expected_purchases, 2),
                    clv: shown(c.predicted_clv, 2),
                    segment: c.segment.unwrap_or_default(),
                    tier: c.tier.unwrap_or_default(),
                })
                .collect(),
            next: next.map(|after| {
                format!(
                    "after={}&q={}&where={}",
                    encode(&after),
                    encode(page.q.as_deref().unwrap_or_default()),
                    encode(page.filter.as_deref().unwrap_or_default())
                )
            }),
            error: None,
        },
        Err(e) => RowsPart {
            rows: Vec::new(),
            next: None,
            error: Some(said(e)),
        },
    }
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    frame: Frame,
    q: String,
    filter: String,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

async fn customers(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<Page>,
) -> Response {
    let RowsPart { rows, next, error } = rows(&state, &operator, &query).await;
    page(CustomersPage {
        frame: Frame::new(&operator, "customers"),
        q: query.q.unwrap_or_default(),
        filter: query.filter.unwrap_or_default(),
        rows,
        next,
        error,
    })
}

async fn customer_rows(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<Page>,
) -> Response {
    page(rows(&state, &operator, &query).await)
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    frame: Frame,
    id: String,
    line: String,
    headline: String,
    blank_because: Option<String>,
    as_of: String,
    predictions: String,
    orders: String,
}

/// The predictions a profile shows: column, label, decimals.
const PREDICTIONS: [(&str, &str, usize); 6] = [
    ("p_alive", "P(alive)", 3),
    ("churn_probability", "churn probability", 3),
    ("expected_purchases", "expected purchases, next year", 2),
    ("expected_spend", "expected spend per order", 2),
    ("predicted_clv", "predicted CLV, next year", 2),
    ("total_clv", "historic + predicted CLV", 2),
];

async fn customer(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Response {
    let p = match crate::api::profile(&state.store, &operator.shop, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let orders = p["orders"].as_array().cloned().unwrap_or_default();
    let scores = &p["predictions"];
    let mut rows = Vec::new();
    for (key, label, digits) in PREDICTIONS {
        let Some(value) = scores[key].as_f64() else {
            continue;
        };
        let bound = |side: &str| {
            scores[format!("{key}_{side}")]
                .as_f64()
                .map(|x| number(x, digits))
        };
        let interval = match (bound("lower"), bound("upper")) {
            (Some(lo), Some(hi)) => format!("{lo} – {hi}"),
            _ => String::new(),
        };
        rows.push(vec![label.to_string(), number(value, digits), interval]);
    }
    if let Some(date) = scores["expected_next_order_date"].as_str() {
        let range = match (
            scores["expected_next_order_date_lower"].as_str(),
            scores["expected_next_order_date_upper"].as_str(),
        ) {
            (Some(lo), Some(hi)) => format!("{lo} – {hi}"),
            _ => String::new(),
        };
        rows.push(vec!["expected next order".into(), date.to_string(), range]);
    }
    let predictions = if rows.is_empty() {
        String::new()
    } else {
        block(
            &Block::Table {
                columns: vec!["prediction".into(), "value".into(), "interval".into()],
                rows,
            },
            0,
        )
    };
    let order_rows: Vec<Vec<String>> = orders
        .iter()
        .map(|order| {
            let state = if order["cancelled"].as_bool() == Some(true) {
                "cancelled"
            } else if order["refunded_minor"].as_i64().unwrap_or(0) > 0 {
                "refunded in part or whole"
            } else {
                ""
            };
            vec![
                text(&order["order_id"]),
                text(&order["placed_at"]),
                money(&operator, order["total_minor"].as_i64().unwrap_or(0)),
                money(&operator, order["refunded_minor"].as_i64().unwrap_or(0)),
                state.to_string(),
            ]
        })
        .collect();
    let historic = p["historic_value_minor"].as_i64().unwrap_or(0);
    let headline = block(
        &Block::Metrics(vec![
            metric(
                "orders",
                number(orders.len() as f64, 0),
                "all, cancelled included",
            ),
            metric(
                "historic value",
                money(&operator, historic),
                "net of refunds, now",
            ),
            metric("segment", text(&p["segment"]), "RFM, at the last rescore"),
            metric("value tier", text(&p["tier"]), "by predicted CLV"),
        ]),
        0,
    );
    let as_of = text(&p["predictions_as_of"]);
    page(CustomerPage {
        frame: Frame::new(&operator, "customers"),
        line: format!(
            "{}first seen {}.",
            p["email"]
                .as_str()
                .map(|e| format!("{e}, "))
                .unwrap_or_default(),
            text(&p["first_seen"])
        ),
        id,
        headline,
        blank_because: p["predictions_blank_because"].as_str().map(str::to_string),
        as_of,
        predictions,
        orders: block(
            &Block::Table {
                columns: ["order", "placed", "total", "refunded", ""]
                    .map(String::from)
                    .to_vec(),
                rows: order_rows,
            },
            0,
        ),
    })
}

struct SavedRow {
    name: String,
    conditions: String,
    link: String,
    customers: String,
}

#[derive(Template)]
#[template(path = "segments.html")]
struct SegmentsPage {
    frame: Frame,
    name: String,
    conditions: String,
    error: Option<String>,
    saved: Vec<SavedRow>,
    rfm_chart: String,
    rfm_table: String,
    tiers_table: String,
}

async fn segments_page(
    state: &AppState,
    o: &Operator,
    name: String,
    conditions: String,
    error: Option<String>,
) -> Response {
    let s = match crate::segments::segments(&state.store, o.shop.id).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let shown = |x: Option<f64>, digits| x.map_or("–".to_string(), |v| number(v, digits));
    let rfm_chart = block(
        &Block::Bars(Bars {
            title: "Customers per segment".into(),
            x_label: "segment".into(),
            y_label: "customers".into(),
            bars: s
                .rfm
                .iter()
                .map(|g| (g.group.name.clone(), g.group.customers as f64))
                .collect(),
        }),
        1,
    );
    let rfm_table = block(
        &Block::Table {
            columns: [
                "segment",
                "customers",
                "predicted CLV",
                "mean P(alive)",
                "what to do",
            ]
            .map(String::from)
            .to_vec(),
            rows: s
                .rfm
                .iter()
                .map(|g| {
                    vec![
                        g.group.name.clone(),
                        number(g.group.customers as f64, 0),
                        shown(g.group.predicted_clv, 0),
                        shown(g.group.mean_p_alive, 3),
                        g.action.clone(),
                    ]
                })
                .collect(),
        },
        0,
    );
    let tiers_table = block(
        &Block::Table {
            columns: ["tier", "customers", "predicted CLV", "mean P(alive)"]
                .map(String::from)
                .to_vec(),
            rows: s
                .tiers
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        number(g.customers as f64, 0),
                        shown(g.predicted_clv, 0),
                        shown(g.mean_p_alive, 3),
                    ]
                })
                .collect(),
        },
        0,
    );
    let mut response = page(SegmentsPage {
        frame: Frame::new(o, "segments"),
        name,
        conditions,
        saved: s
            .saved
            .into_iter()
            .map(|saved| SavedRow {
                link: encode(&saved.conditions),
                customers: number(saved.customers as f64, 0),
                name: saved.name,
                conditions: saved.conditions,
            })
            .collect(),
        error: error.clone(),
        rfm_chart,
        rfm_table,
        tiers_table,
    });
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

async fn segments(State(state): State<AppState>, operator: Operator) -> Response {
    segments_page(&state, &operator, String::new(), String::new(), None).await
}

#[derive(Deserialize)]
struct SegmentForm {
    name: String,
    conditions: String,
    csrf: Option<String>,
}

async fn save_segment(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Form(form): Form<SegmentForm>,
) -> Response {
    if !csrf_ok(&operator, form.csrf.as_deref(), &headers) {
        return stale_form();
    }
    if operator.role < crate::auth::Role::Write {
        let why = "your user may only read: ask an admin to save segments".to_string();
        return segments_page(&state, &operator, form.name, form.conditions, Some(why)).await;
    }
    match crate::segments::save(&state.store, operator.shop.id, &form.name, &form.conditions).await
    {
        Ok(_) => Redirect::to("/segments").into_response(),
        Err(e) => {
            let why = said(e);
            segments_page(&state, &operator, form.name, form.conditions, Some(why)).await
        }
    }
}

#[derive(Deserialize)]
struct Preview {
    conditions: Option<String>,
}

/// How many customers the conditions being typed select (a fragment for htmx).
async fn segment_preview(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<Preview>,
) -> Response {
    let text = q.conditions.unwrap_or_default();
    if text.trim().is_empty() {
        return Html(String::new()).into_response();
    }
    let message = match crate::conditions::parse(&text) {
        Err(e) => format!("Not yet a segment: {e}"),
        Ok(conditions) => {
            match crate::segments::count(&state.store, operator.shop.id, &conditions).await {
                Ok(n) => format!("{} customers match.", number(n as f64, 0)),
                Err(e) => e.message,
            }
        }
    };
    Html(clv_report::escape(&message)).into_response()
}
