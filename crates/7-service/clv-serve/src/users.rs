//! Dashboard users and their sessions. Passwords are kept as argon2id hashes (PHC strings, the
//! salt inside); a session is a random token in an HttpOnly cookie, stored as its SHA-256, with
//! a second random token that every form and htmx request must echo (the CSRF check).

use crate::auth::Role;
use crate::error::ServeError;
use crate::shops::Shop;
use crate::Store;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

/// How long a session lasts from login.
pub const SESSION_SECONDS: i64 = 7 * 24 * 3600;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// A logged-in dashboard user.
#[derive(Debug, Clone)]
pub struct Operator {
    pub email: String,
    pub role: Role,
    pub shop: Shop,
    /// What forms must send back as `csrf` (or htmx as `X-CSRF-Token`).
    pub csrf: String,
}

/// `length` random letters and digits (session tokens, CSRF tokens, generated passwords).
pub fn random_secret(length: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), length)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn hash(password: &str) -> Result<String, ServeError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ServeError::Invalid(format!("hashing the password: {e}")))
}

/// Add user `email` with `password` to `shop` (emails are unique across shops).
pub async fn create(
    store: &Store,
    shop: i64,
    email: &str,
    password: &str,
    role: Role,
) -> Result<(), ServeError> {
    let email = email.trim().to_lowercase();
    if !email.contains('@') {
        return Err(ServeError::Invalid(format!(
            "`{email}` is not an email address"
        )));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(ServeError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD} characters"
        )));
    }
    let hashed = hash(password)?;
    let inserted = sqlx::query(
        "INSERT INTO users (shop_id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(shop)
    .bind(&email)
    .bind(hashed)
    .bind(role.name())
    .bind(crate::store::now())
    .execute(&store.writer)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(ServeError::Invalid(
            format!("a user `{email}` exists already"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A hash no password matches, checked when the email is unknown so that a wrong email takes as
/// long as a wrong password (the response time does not tell which emails exist).
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&random_secret(32)).unwrap_or_default())
}

/// Check `email` and `password`; on success start a session and return its cookie token.
pub async fn login(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<Option<String>, ServeError> {
    let email = email.trim().to_lowercase();
    let found: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&store.pool)
            .await?;
    let stored = found
        .as_ref()
        .map_or(decoy(), |(_, h)| h.as_str())
        .to_string();
    let password = password.to_string();
    // Hashing takes tens of milliseconds of CPU: off the async threads.
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    let Some((user, _)) = found.filter(|_| matches) else {
        return Ok(None);
    };
    let (session, csrf) = (random_secret(32), random_secret(32));
    let now = crate::store::now();
    sqlx::query(
        "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&session))
    .bind(user)
    .bind(csrf)
    .bind(now)
    .bind(now + SESSION_SECONDS)
    .execute(&store.writer)
    .await?;
    Ok(Some(session))
}

/// The operator of session `token`, if it is a live session.
pub async fn session(store: &Store, token: &str) -> Result<Option<Operator>, ServeError> {
    let row: Option<(String, String, i64, String)> = sqlx::query_as(
        "SELECT u.email, u.role, u.shop_id, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_sha256 = $1 AND s.expires_at > $2",
    )
    .bind(sha256_hex(token))
    .bind(crate::store::now())
    .fetch_optional(&store.pool)
    .await?;
    let Some((email, role, shop, csrf)) = row else {
        return Ok(None);
    };
    let shop = crate::shops::load(store, shop).await?;
    Ok(Some(Operator {
        email,
        role: Role::parse(&role).unwrap_or(Role::Read),
        shop,
        csrf,
    }))
}

/// End session `token` (and drop every expired one).
pub async fn logout(store: &Store, token: &str) -> Result<(), ServeError> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1 OR expires_at <= $2")
        .bind(sha256_hex(token))
        .bind(crate::store::now())
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Whether two secrets are equal, in time that depends only on their length.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}
