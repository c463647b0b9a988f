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

/// The shared store: connection pools and which database it talks to.
#[derive(Clone)]
pub struct Store {
    /// For reads (and, on PostgreSQL, writes too).
    pub pool: AnyPool,
    /// For writes: on SQLite one connection, so writers queue in the pool instead of retrying
    /// against the database's single write lock; on PostgreSQL the same pool as `pool`.
    pub writer: AnyPool,
    /// The same database through its own driver, for bulk reads only (see [`Native`]).
    pub native: Native,
    pub backend: Backend,
}

/// The database through its own driver, for a rescore's read of every order. sqlx's SQLite
/// driver hands each row from its worker thread to the reading task (a thread wake-up a row: 11 s
/// for 2.3 M orders, against 1.3 s in the sqlite3 shell), and its `Any` layer converts every row
/// on either database; rusqlite reads on the caller's thread, and PostgreSQL's own pool decodes
/// in place.
#[derive(Clone)]
pub enum Native {
    /// The database file, opened read-only for each bulk read.
    Sqlite(std::path::PathBuf),
    Postgres(sqlx::PgPool),
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
        let options = AnyPoolOptions::new().after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL: readers do not block the writer. NORMAL: a commit survives the
                    // process being killed (it is in the WAL), not the machine losing power.
                    // journal_size_limit: a WAL that a rescore grew to ~400 MB is cut back to
                    // 64 MB once it has been copied into the database.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; \
                             PRAGMA journal_size_limit = 67108864;",
                    )
                    .await?;
                }
                Ok(())
            })
        });
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let pool = options.clone().max_connections(4).connect(&url).await?;
                (pool, options.max_connections(1).connect(&url).await?)
            }
            Backend::Postgres => {
                let pool = options.max_connections(16).connect(&url).await?;
                (pool.clone(), pool)
            }
        };
        match backend {
            Backend::Sqlite => SQLITE.run(&writer).await?,
            Backend::Postgres => POSTGRES.run(&writer).await?,
        }
        let native = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://");
                Native::Sqlite(path.strip_suffix("?mode=rwc").unwrap_or(path).into())
            }
            Backend::Postgres => Native::Postgres(
                sqlx::pool::PoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await?,
            ),
        };
        Ok(Store {
            pool,
            writer,
            native,
            backend,
        })
    }

    /// The database's own integrity checks; the problems found (none: empty).
    pub async fn check(&self) -> Result<Vec<String>, sqlx::Error> {
        let mut problems = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
                    .fetch_all(&self.pool)
                    .await?;
                problems.extend(rows.into_iter().map(|r| r.0).filter(|r| r != "ok"));
                let orphans: Vec<(String,)> =
                    sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&self.pool)
                        .await?;
                problems.extend(
                    orphans
                        .into_iter()
                        .map(|r| format!("a row of {} names a missing parent", r.0)),
                );
            }
            // PostgreSQL checks every page as it reads it: reading every row of every table is
            // its check of the data (pg_amcheck checks the indexes, from outside).
            Backend::Postgres => {
                for table in TABLES {
                    // The names are the constants below, not input.
                    let sql = format!("SELECT COUNT(*) FROM {table}");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&self.pool)
                        .await?;
                }
            }
        }
        Ok(problems)
    }
}

impl Native {
    /// SQLite: copy what the WAL holds into the database file without holding up the writer (a
    /// passive checkpoint on a connection of its own, on a blocking thread); the frames in the
    /// WAL and how many were copied. PostgreSQL checkpoints by itself: None.
    pub async fn checkpoint(&self) -> Result<Option<(i64, i64)>, ServeError> {
        let Native::Sqlite(path) = self else {
            return Ok(None);
        };
        let path = path.clone();
        let copy = move || {
            let db = rusqlite::Connection::open(path)?;
            db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
        };
        Ok(Some(tokio::task::spawn_blocking(copy).await??))
    }
}

/// Every table of the store.
const TABLES: [&str; 32] = [
    "shops",
    "api_keys",
    "customers",
    "orders",
    "cancellations",
    "refunds",
    "events",
    "idempotency_keys",
    "score_runs",
    "predictions",
    "prediction_pages",
    "job_claims",
    "integrations",
    "loyalty_programs",
    "loyalty_ledger",
    "loyalty_rewards",
    "order_lines",
    "users",
    "sessions",
    "saved_segments",
    "journeys",
    "journey_versions",
    "journey_runs",
    "outbox",
    "cap_slots",
    "consents",
    "suppressions",
    "channel_settings",
    "messaging_settings",
    "customer_activity",
    "service_secrets",
    "_sqlx_migrations",
];

/// SQL: orders `o` that no cancellation names (the orders that count).
macro_rules! live {
    () => {
        "NOT EXISTS (SELECT 1 FROM cancellations c WHERE c.shop_id = o.shop_id AND c.order_id = o.order_id)"
    };
}
pub(crate) use live;

/// Whether `table` (a name from this crate's code, never from a request) has a row of `shop`.
pub(crate) async fn has_rows<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    table: &str,
    shop: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!("SELECT 1 FROM {table} WHERE shop_id = $1 LIMIT 1");
    let found: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .fetch_optional(executor)
        .await?;
    Ok(found.is_some())
}

/// Seconds since 1970, UTC.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Seconds since 1970, UTC, with the fraction.
pub fn now_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
