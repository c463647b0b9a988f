//! `clv serve`: the retention service. A store on SQLite (embedded, the default) or PostgreSQL,
//! one code path for both; shops with API keys and roles; idempotent ingest of store events;
//! predictions refreshed by the valuation crate from the stored order history; the HTTP API and
//! the operator dashboard.
//!
//! The binary owns the runtime and the terminal: this crate returns values and errors and logs
//! through `tracing`.

pub mod api;
pub mod auth;
pub mod channels;
pub mod conditions;
pub mod dashboard;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod events;
pub mod imports;
pub mod journeys;
pub mod journeys_api;
pub mod loyalty;
pub mod money;
pub mod outbox;
pub mod referrals;
pub mod rescore;
pub mod segments;
pub mod settings;
pub mod shopify;
pub mod shops;
pub mod smtp;
pub mod store;
pub mod users;

pub use error::{ApiError, ServeError};
pub use shops::{create_shop, NewShop, Shop};
pub use store::Store;

use std::net::SocketAddr;
use std::time::Duration;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where it listens (loopback by default: put a TLS proxy in front to expose it).
    pub listen: SocketAddr,
    /// Threads a rescore fits and scores on.
    pub threads: usize,
    /// Refit and rescore every shop this often; `None`: only on request.
    pub rescore_every: Option<Duration>,
    /// Requests a second each API key may make (bursts of a second's worth).
    pub requests_per_second: f64,
    /// The address customers reach the service at, for unsubscribe links (default: the
    /// listening address).
    pub public_url: Option<String>,
}

/// Resolves on Ctrl-C or SIGTERM: the `shutdown` a binary gives [`serve`] (requests in flight
/// finish, new ones are refused).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = interrupt => {}, _ = terminate => {} }
}

/// Serve `store` until `shutdown` resolves, then drain in-flight requests. `ready` receives the
/// address bound (useful with port 0).
pub async fn serve(
    store: Store,
    config: ServeConfig,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Listen(config.listen, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServeError::Listen(config.listen, e))?;
    let public_url = (config.public_url.clone()).unwrap_or_else(|| format!("http://{bound}"));
    let mut state = api::AppState::new(store, config.threads, config.requests_per_second);
    state.public_url = Some(public_url.clone());
    let scheduler = config.rescore_every.map(|every| {
        let state = state.clone();
        tokio::spawn(async move { rescore::every(state, every).await })
    });
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move { loyalty::expire_every(state, loyalty::SWEEP_EVERY).await })
    };
    let worker = {
        let delivery = outbox::Delivery {
            senders: channels::Senders::new(),
            public_url,
            owner: format!("{}-{}", std::process::id(), users::random_secret(8)),
            live_clock: true,
        };
        let store = state.store.clone();
        tokio::spawn(async move { outbox::work(store, delivery, Duration::from_millis(200)).await })
    };
    let app = api::router(state);
    ready(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| ServeError::Listen(bound, e))?;
    if let Some(task) = scheduler {
        task.abort();
    }
    sweeper.abort();
    worker.abort();
    Ok(())
}
