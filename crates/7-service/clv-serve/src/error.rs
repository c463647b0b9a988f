//! Errors: [`ServeError`] for starting and running the service, [`ApiError`] for a request,
//! answered as JSON that names the field, what is wrong and what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The bulk read or checkpoint that goes to SQLite directly (see `store::Native`).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a database task stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A request that cannot be answered: status, a stable code, and the message for the caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    #[schema(ignore)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The JSON path or parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Bad input at `field`: 422.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl ApiError {
    /// The database failed: logged with its reason; the client is told to retry.
    fn database(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "database");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database",
            "the database did not answer; retry (with the same Idempotency-Key)",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::database(&e)
    }
}

/// The rescore's bulk read on SQLite.
impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::database(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        (status, axum::Json(serde_json::json!({ "error": self }))).into_response()
    }
}
