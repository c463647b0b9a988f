//! The database: SQLite (a file, created on first use) or PostgreSQL, behind one sqlx `Any` pool,
//! so every query is written once. Migrations exist for both and run at open.

use crate::ServeError;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared store: a connection pool and which database it talks to.
#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Open (and migrate) the database at `url`: `postgres://…`, `sqlite://PATH` or a plain path
    /// (a SQLite file; its folder is created).
    pub async fn open(url: &str) -> Result<Store, ServeError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_string(), Backend::Postgres)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        ServeError::Invalid(format!("creating {}: {e}", dir.display()))
                    })?;
                }
            }
            (format!("sqlite://{path}?mode=rwc"), Backend::Sqlite)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers do not block the writer. NORMAL: a commit survives the
                        // process being killed (it is in the WAL), not the machine losing power.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE.run(&pool).await?,
            Backend::Postgres => POSTGRES.run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    /// The database's own integrity check: true when it finds nothing wrong.
    pub async fn integrity_ok(&self) -> Result<bool, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let row: (String,) = sqlx::query_as("PRAGMA integrity_check")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.0 == "ok")
            }
            // PostgreSQL checks its pages as it reads them: a full scan of every table is the check.
            Backend::Postgres => {
                for table in [
                    "shops",
                    "orders",
                    "refunds",
                    "events",
                    "customers",
                    "predictions",
                ] {
                    // The names are the constants above, not input.
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                        .fetch_one(&self.pool)
                        .await?;
                }
                Ok(true)
            }
        }
    }
}

/// Seconds since 1970, UTC.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
