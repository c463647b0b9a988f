//! The journey endpoints: definitions and the built-in library, channels and messaging rules,
//! consent, each customer's message log, and the public one-click unsubscribe (RFC 8058).

use crate::api::{json_body, known_customer, mutation, typed_body, AppState, IdempotencyKey};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use clv_journeys::Channel;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn routes(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    router
        .routes(routes!(list))
        .routes(routes!(library))
        .routes(routes!(show, save))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(set_channel))
        .routes(routes!(messaging, set_messaging))
        .routes(routes!(consent))
        .routes(routes!(messages))
}

/// Routes without a key: the unsubscribe link a message carries.
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/u/{token}",
            axum::routing::get(unsubscribe_page).post(unsubscribe),
        )
        .route(
            "/webhooks/twilio/{shop}",
            axum::routing::post(twilio_status),
        )
        .route(
            "/webhooks/whatsapp/{shop}",
            axum::routing::get(whatsapp_handshake).post(whatsapp_status),
        )
}

/// The shop a provider's webhook names and its settings for `channel`; a refusal that says
/// nothing about which of the two is missing.
async fn hooked(
    state: &AppState,
    shop: &str,
    channel: Channel,
) -> Result<(i64, crate::channels::Settings), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!(
                "no such shop, or its {} channel is not set up",
                channel.name()
            ),
        )
    };
    let id: i64 = shop.parse().map_err(|_| refused())?;
    let settings = crate::outbox::channel_settings(&state.store, id, channel).await?;
    Ok((id, settings.ok_or_else(refused)?))
}

fn applied(moved: u64) -> Response {
    (StatusCode::OK, Json(json!({ "applied": moved }))).into_response()
}

/// Twilio's status callback (set `StatusCallback` to `{public URL}/webhooks/twilio/{shop id}`):
/// signed with the auth token over the public URL, applied once and never backwards.
async fn twilio_status(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, settings) = hooked(&state, &shop, Channel::Sms).await?;
    let crate::channels::Settings::Sms { auth_token, .. } = settings else {
        return Err(ApiError::invalid(
            "channel",
            "the sms settings are not Twilio's",
        ));
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = state
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|h| h.to_str().ok());
    let update = crate::delivery::twilio_update(&auth_token, &url, signature, &body)?;
    let now = crate::store::now();
    let moved =
        crate::delivery::apply(&state.store, id, Channel::Sms, update.as_slice(), now).await?;
    Ok(applied(moved))
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's subscription check of the WhatsApp webhook: the challenge echoed when the verify
/// token is the channel's.
async fn whatsapp_handshake(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    axum::extract::Query(hub): axum::extract::Query<Handshake>,
) -> Result<Response, ApiError> {
    let (_, settings) = hooked(&state, &shop, Channel::Whatsapp).await?;
    let crate::channels::Settings::Whatsapp { verify_token, .. } = settings else {
        return Err(ApiError::invalid(
            "channel",
            "the whatsapp settings are not WhatsApp's",
        ));
    };
    match (
        hub.mode.as_deref(),
        &hub.verify_token,
        verify_token,
        hub.challenge,
    ) {
        (Some("subscribe"), Some(given), Some(token), Some(challenge)) if *given == token => {
            Ok((StatusCode::OK, challenge).into_response())
        }
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_verify_token",
            "hub.verify_token is not the channel's verify_token",
        )),
    }
}

/// WhatsApp's webhook: message statuses, signed with the app secret, applied once and never
/// backwards.
async fn whatsapp_status(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, settings) = hooked(&state, &shop, Channel::Whatsapp).await?;
    let crate::channels::Settings::Whatsapp {
        app_secret: Some(secret),
        ..
    } = settings
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the whatsapp channel has no app_secret to check webhooks with",
        ));
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|h| h.to_str().ok());
    let updates = crate::delivery::whatsapp_updates(&secret, signature, &body)?;
    let now = crate::store::now();
    let moved = crate::delivery::apply(&state.store, id, Channel::Whatsapp, &updates, now).await?;
    Ok(applied(moved))
}

/// The shop's journeys: version, on or off, runs by status, messages by status and skip reason.
#[utoipa::path(get, path = "/api/v1/journeys", responses(
    (status = 200, description = "The journeys", body = [crate::journeys::Listed]),
))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let listed = crate::journeys::list(&state.store, caller.shop.id).await?;
    Ok(Json(json!({ "journeys": listed })))
}

/// The built-in journeys any shop can enable.
#[utoipa::path(get, path = "/api/v1/journeys/library", responses(
    (status = 200, description = "Their ids, names and descriptions", body = Object),
))]
async fn library(_caller: Caller) -> Json<Value> {
    let items: Vec<Value> = clv_journeys::library::BUILT_IN
        .iter()
        .filter_map(|(id, text)| clv_journeys::Journey::parse(text).ok().map(|j| (id, j)))
        .map(|(id, j)| json!({"id": id, "name": j.name, "description": j.description}))
        .collect();
    Json(json!({ "library": items }))
}

/// A journey's current definition.
#[utoipa::path(get, path = "/api/v1/journeys/{id}", params(("id" = String, Path, description = "The journey's id")), responses(
    (status = 200, description = "The definition, version and whether it is on", body = Object),
    (status = 404, description = "No such journey", body = ApiError),
))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (journey, version, enabled) =
        crate::journeys::current(&state.store, caller.shop.id, &id).await?;
    Ok(Json(
        json!({"version": version, "enabled": enabled, "definition": journey}),
    ))
}

/// Save a new version of a journey (admin keys). The body is the definition; mistakes are
/// answered with their line and column or the step they are in. Runs already in the journey
/// finish on the version they entered with.
#[utoipa::path(put, path = "/api/v1/journeys/{id}", request_body = Object, params(("id" = String, Path, description = "The journey's id"), IdempotencyKey), responses(
    (status = 200, description = "Saved: the version", body = Object),
    (status = 422, description = "Not a valid journey: where and why", body = ApiError),
))]
async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        json_body(&body)?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::invalid("definition", "is not UTF-8"))?;
        let (journey, version) = crate::journeys::save(&state.store, caller.shop.id, text).await?;
        if journey.id != id {
            return Err(ApiError::invalid(
                "id",
                format!(
                    "the definition's id is `{}`, the URL's `{id}`: make them the same",
                    journey.id
                ),
            ));
        }
        Ok((
            StatusCode::OK,
            json!({"id": journey.id, "version": version}),
        ))
    })
    .await
}

/// Switch a journey on (admin keys). A built-in journey the shop has not saved is saved first.
/// Runs start from events that arrive from now on: history and imports never start any.
#[utoipa::path(post, path = "/api/v1/journeys/{id}/enable", request_body(content = Object, description = "Empty"), params(("id" = String, Path, description = "The journey's id"), IdempotencyKey), responses(
    (status = 200, description = "On", body = Object),
    (status = 404, description = "No such journey, saved or built in", body = ApiError),
))]
async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let version = crate::journeys::enable(&state.store, caller.shop.id, &id, true).await?;
        Ok((
            StatusCode::OK,
            json!({"id": id, "version": version, "enabled": true}),
        ))
    })
    .await
}

/// Switch a journey off (admin keys): no new runs; runs under way go on to their end.
#[utoipa::path(post, path = "/api/v1/journeys/{id}/disable", request_body(content = Object, description = "Empty"), params(("id" = String, Path, description = "The journey's id"), IdempotencyKey), responses(
    (status = 200, description = "Off", body = Object),
    (status = 404, description = "No such journey", body = ApiError),
))]
async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        crate::journeys::current(&state.store, caller.shop.id, &id).await?;
        let version = crate::journeys::enable(&state.store, caller.shop.id, &id, false).await?;
        Ok((
            StatusCode::OK,
            json!({"id": id, "version": version, "enabled": false}),
        ))
    })
    .await
}

/// Where a channel sends (admin keys): `{"channel": "email", "smtp_url": …, "from": …}`,
/// `{"channel": "sms", "account_sid": …, "auth_token": …, "from": …}`, `{"channel":
/// "whatsapp", "phone_number_id": …, "access_token": …, "template": …}`, `{"channel":
/// "telegram", "bot_token": …}`, `{"channel": "messenger" | "instagram", "page_access_token":
/// …}`, `{"channel": "line", "channel_access_token": …}`, `{"channel": "wechat",
/// "access_token": …}` or `{"channel": "webhook", "url": …, "secret": …}`; providers take a
/// `base_url`.
#[utoipa::path(put, path = "/api/v1/channels/{channel}", request_body = crate::channels::Settings, params(("channel" = String, Path, description = "email, sms, whatsapp, telegram, messenger, instagram, line, wechat or webhook"), IdempotencyKey), responses(
    (status = 200, description = "Saved", body = Object),
    (status = 422, description = "Settings that cannot work", body = ApiError),
))]
async fn set_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let mut value = json_body(&body)?;
        if let Value::Object(map) = &mut value {
            map.entry("channel").or_insert(json!(channel));
        }
        let settings: crate::channels::Settings = serde_json::from_value(value)
            .map_err(|e| ApiError::invalid("settings", e.to_string()))?;
        if settings.channel().name() != channel {
            return Err(ApiError::invalid(
                "channel",
                format!(
                    "the URL names {channel}, the body {}",
                    settings.channel().name()
                ),
            ));
        }
        crate::outbox::set_channel(&state.store, caller.shop.id, &settings).await?;
        Ok((StatusCode::OK, json!({"channel": channel})))
    })
    .await
}

/// The shop's messaging rules: marketing messages per customer per local day.
#[utoipa::path(get, path = "/api/v1/messaging", responses(
    (status = 200, description = "The rules", body = crate::outbox::Messaging),
))]
async fn messaging(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::outbox::Messaging>, ApiError> {
    Ok(Json(
        crate::outbox::messaging(&state.store, caller.shop.id).await?,
    ))
}

/// Set the messaging rules (admin keys).
#[utoipa::path(put, path = "/api/v1/messaging", request_body = crate::outbox::Messaging, params(IdempotencyKey), responses(
    (status = 200, description = "Saved", body = crate::outbox::Messaging),
    (status = 422, description = "A bad body", body = ApiError),
))]
async fn set_messaging(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Admin, &headers, &body, || async {
        let settings: crate::outbox::Messaging =
            typed_body(&body, "messaging", "{\"marketing_per_day\": 2}")?;
        crate::outbox::set_messaging(&state.store, caller.shop.id, &settings).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(settings).unwrap_or_default(),
        ))
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentStatement {
    /// email, sms, whatsapp, telegram, messenger, instagram, line, wechat or webhook.
    channel: String,
    /// "marketing" (the opt-in to the channel) or a topic (winback, reviews, …).
    #[serde(default = "marketing")]
    topic: String,
    granted: bool,
    /// When the customer said so (UTC seconds; default now): an older statement than the
    /// stored one changes nothing.
    #[serde(default)]
    at: Option<i64>,
}

fn marketing() -> String {
    "marketing".into()
}

/// Record a customer's consent on a channel (write keys). Checked when each message is sent,
/// so it holds for messages already scheduled.
#[utoipa::path(put, path = "/api/v1/customers/{id}/consent", request_body = ConsentStatement, params(("id" = String, Path, description = "The customer's id"), IdempotencyKey), responses(
    (status = 200, description = "Recorded", body = Object),
    (status = 404, description = "No such customer", body = ApiError),
    (status = 422, description = "A bad body", body = ApiError),
))]
async fn consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    mutation(&state, &caller, Role::Write, &headers, &body, || async {
        let statement: ConsentStatement = typed_body(&body, "consent", "{\"channel\": \"email\", \"topic\": \"marketing\", \"granted\": true}")?;
        let channel = Channel::parse(&statement.channel).ok_or_else(|| ApiError::invalid("channel", format!("is {}", Channel::NAMES)))?;
        if statement.topic.is_empty() || statement.topic.len() > 64 {
            return Err(ApiError::invalid("topic", "is 1 to 64 characters"));
        }
        known_customer(&state.store, caller.shop.id, &id).await?;
        let at = statement.at.unwrap_or_else(crate::store::now);
        crate::outbox::set_consent(&state.store.writer, caller.shop.id, &id, channel, &statement.topic, statement.granted, at, "api").await?;
        Ok((StatusCode::OK, json!({"channel": channel.name(), "topic": statement.topic, "granted": statement.granted})))
    })
    .await
}

/// Every message of a customer: scheduled, sent, skipped (with the reason) or failed.
#[utoipa::path(get, path = "/api/v1/customers/{id}/messages", params(("id" = String, Path, description = "The customer's id")), responses(
    (status = 200, description = "The message log, newest first", body = [crate::outbox::Logged]),
    (status = 404, description = "No such customer", body = ApiError),
))]
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known_customer(&state.store, caller.shop.id, &id).await?;
    let log = crate::outbox::log(&state.store, caller.shop.id, &id).await?;
    Ok(Json(json!({ "messages": log })))
}

/// The link in a message: a page with one button (a GET must not unsubscribe: mail scanners
/// follow links).
async fn unsubscribe_page(Path(token): Path<String>) -> Html<String> {
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Unsubscribe</title><form method=post action=\"/u/{token}\">\
         <p>Stop these messages?</p><button type=submit>Unsubscribe</button></form>"
    ))
}

/// One-click unsubscribe: the POST a mail client sends for `List-Unsubscribe-Post`, or the
/// page's button.
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (channel, topic) = crate::outbox::unsubscribe(&state.store, &token).await?;
    Ok((StatusCode::OK, Html(format!("<!doctype html><meta charset=utf-8><p>Done: no more {topic} messages on {channel}.</p>"))).into_response())
}
