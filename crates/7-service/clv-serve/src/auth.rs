//! API keys and roles. A key is `clv_` + a public key id + `_` + a random secret; the store keeps
//! the id and the SHA-256 of the secret. A fast hash is right here (argon2 is for passwords): the
//! secret is 190 random bits, so there is nothing to guess, and every request checks one.

use crate::api::AppState;
use crate::error::ApiError;
use crate::shops::Shop;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

/// What a key may do: read < write (ingest, rescore) < admin (keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Read, Role::Write, Role::Admin]
            .into_iter()
            .find(|r| r.name() == text)
    }
}

/// The authenticated caller of a request: its shop and role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub shop: Shop,
    pub role: Role,
}

impl Caller {
    /// Refuse unless the key has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this key is {}; this request needs a {} key",
                self.role.name(),
                role.name()
            ),
        ))
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Make a key with `role` for shop `shop_id`; returns the whole key (its secret is not kept).
pub async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop_id: i64,
    role: Role,
) -> Result<String, sqlx::Error> {
    // The thread's generator is not held across the await below.
    let (key_id, secret) = {
        let mut rng = rand::rng();
        (
            Alphanumeric.sample_string(&mut rng, 12),
            Alphanumeric.sample_string(&mut rng, 32),
        )
    };
    sqlx::query(
        "INSERT INTO api_keys (shop_id, key_id, secret_sha256, role, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(shop_id)
    .bind(&key_id)
    .bind(sha256_hex(&secret))
    .bind(role.name())
    .bind(crate::store::now())
    .execute(&mut **tx)
    .await?;
    Ok(format!("clv_{key_id}_{secret}"))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION);
        let Some(key) = header.and_then(|h| h.to_str().ok()?.strip_prefix("Bearer ")) else {
            return Err(unauthorized(
                "send the shop's API key: Authorization: Bearer clv_…",
            ));
        };
        let wrong = || {
            unauthorized(
                "this API key is not valid: check it, or create one with `clv shop create`",
            )
        };
        let (key_id, secret) = key
            .trim()
            .strip_prefix("clv_")
            .and_then(|k| k.split_once('_'))
            .ok_or_else(wrong)?;
        let caller = match state.keys.get(key_id) {
            Some((hash, caller)) => (sha256_hex(secret) == hash).then_some(caller),
            None => {
                let row: Option<(i64, String, String)> = sqlx::query_as(
                    "SELECT shop_id, secret_sha256, role FROM api_keys WHERE key_id = $1",
                )
                .bind(key_id)
                .fetch_optional(&state.store.pool)
                .await?;
                let (shop_id, hash, role) = row.ok_or_else(wrong)?;
                let shop = state.shop(shop_id).await?;
                let caller = Caller {
                    shop,
                    role: Role::parse(&role).unwrap_or(Role::Read),
                };
                // Digests compared, not secrets: timing tells nothing about the secret.
                let right = sha256_hex(secret) == hash;
                state.keys.put(key_id, hash, caller.clone());
                right.then_some(caller)
            }
        };
        let caller = caller.ok_or_else(wrong)?;
        state.limits.take(key_id)?;
        Ok(caller)
    }
}

/// A token bucket per key: `rate` requests a second on average, bursts of up to one second's
/// worth (at least 10). In memory: each process counts its own requests.
pub struct RateLimits {
    rate: f64,
    burst: f64,
    buckets: std::sync::Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimits {
    pub fn new(rate: f64) -> Self {
        RateLimits {
            rate,
            burst: rate.max(10.0),
            buckets: Default::default(),
        }
    }

    /// Take one request of `key`'s allowance, or say when to retry.
    pub fn take(&self, key: &str) -> Result<(), ApiError> {
        let now = std::time::Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - *tokens) / self.rate * 1000.0).ceil();
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests a second with this key: retry in {wait_ms} ms (send events in batches)",
                self.rate
            ),
        ))
    }
}

/// Keys looked up recently, by key id: (secret digest, caller), for [`KEY_CACHE_FOR`]. Saves a
/// lookup of the key and its shop on every request; a key's role or shop changes at most this
/// much later than the store.
pub struct KeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<String, (String, Caller, std::time::Instant)>>,
}

/// How long a looked-up key is trusted without asking the store again.
pub const KEY_CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl KeyCache {
    pub fn new() -> Self {
        KeyCache {
            keys: Default::default(),
        }
    }

    fn get(&self, key_id: &str) -> Option<(String, Caller)> {
        let keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (hash, caller, at) = keys.get(key_id)?;
        (at.elapsed() < KEY_CACHE_FOR).then(|| (hash.clone(), caller.clone()))
    }

    fn put(&self, key_id: &str, hash: String, caller: Caller) {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only keys that exist are kept; a full cache starts over.
        if keys.len() >= 100_000 {
            keys.clear();
        }
        keys.insert(
            key_id.to_string(),
            (hash, caller, std::time::Instant::now()),
        );
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new()
    }
}
