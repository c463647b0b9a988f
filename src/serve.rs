//! `clv serve` and `clv shop`: options into the service's config, the runtime, and what the
//! operator is told.

use crate::cli::{ImportArgs, JourneysCommand, ServeArgs, ShopCommand, StoreCommand};
use anyhow::{Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

/// `clv serve --config FILE`: settings that flags and environment variables did not give.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    database: Option<String>,
    listen: Option<std::net::SocketAddr>,
    rescore_every: Option<String>,
    rate_limit: Option<f64>,
    public_url: Option<String>,
}

fn config_file(path: Option<&std::path::Path>) -> Result<ConfigFile> {
    let Some(path) = path else { return Ok(ConfigFile::default()) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: the service's config file", path.display()))
}

pub fn serve(args: &ServeArgs, threads: usize) -> Result<()> {
    let file = config_file(args.config.as_deref())?;
    let rescore_every = match args.rescore_every.as_ref().or(file.rescore_every.as_ref()) {
        Some(text) => Some(clv_score::config::days(clv_data::time::parse_days(text)?)),
        None => None,
    };
    let rate_limit = args.rate_limit.or(file.rate_limit).unwrap_or(1000.0);
    anyhow::ensure!(
        rate_limit.is_finite() && rate_limit > 0.0,
        "rate limit {rate_limit} is not a positive number of requests a second"
    );
    let listen = args.listen.or(file.listen).unwrap_or(([127, 0, 0, 1], 8080).into());
    let public_url = args.public_url.clone().or(file.public_url);
    let config = clv_serve::ServeConfig {
        listen,
        threads,
        rescore_every,
        requests_per_second: rate_limit,
        public_url,
    };
    let database = match args.demo {
        true => demo_database()?,
        false => args
            .database
            .database
            .clone()
            .or(file.database)
            .unwrap_or(crate::cli::DEFAULT_DATABASE.into()),
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(&database).await?;
        let demo = match args.demo {
            true => Some(demo_shop(&store, threads).await?),
            false => None,
        };
        let ready = |at| {
            eprintln!("clv serve: listening on http://{at} ({database})");
            if let Some((key, password)) = &demo {
                eprintln!("demo shop `demo` (CDNOW sample, scored as of 1998-06-30); its admin key:");
                eprintln!("  {key}");
                eprintln!("try: curl -s http://{at}/api/v1/customers/1981 -H \"Authorization: Bearer {key}\"");
                eprintln!("dashboard: http://{at}/ (log in as {DEMO_USER}, password {password})");
            }
        };
        clv_serve::serve(store, config, ready, shutdown()).await?;
        eprintln!("clv serve: stopped");
        Ok(())
    })
}

/// A fresh SQLite file in the temp folder for `clv serve --demo`.
fn demo_database() -> Result<String> {
    let dir = std::env::temp_dir().join("clv-demo-serve");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    Ok(dir.join("clv.db").display().to_string())
}

/// The dashboard user of the demo shop.
const DEMO_USER: &str = "demo@example.com";

/// The demo shop: the bundled CDNOW sample imported and scored, and a dashboard user; returns
/// its admin key and the user's password (random each time).
async fn demo_shop(store: &clv_serve::Store, threads: usize) -> Result<(String, String)> {
    let new = clv_serve::NewShop { name: "demo", timezone: "UTC", currency: "USD" };
    let (shop, key) = clv_serve::create_shop(store, &new).await?;
    let columns = clv_data::ColumnSpec {
        customer: Some("2".into()),
        date: Some("3".into()),
        amount: Some("5".into()),
        ..Default::default()
    };
    let read = clv_data::ReadOptions { columns, threads: 1, ..Default::default() };
    let options = clv_serve::imports::ImportOptions { read, ..Default::default() };
    let cdnow = crate::demo::CDNOW.as_bytes().to_vec();
    let imported = clv_serve::imports::import(&store.writer, &shop, "CDNOW".into(), cdnow, options);
    imported.await.map_err(|e| anyhow::anyhow!("importing the demo data: {}", e.message))?;
    let state = clv_serve::api::AppState::new(store.clone(), threads, f64::INFINITY);
    let as_of = chrono::NaiveDate::from_ymd_opt(1998, 6, 30);
    let run = clv_serve::rescore::rescore(&state, &shop, as_of).await;
    run.map_err(|e| anyhow::anyhow!("scoring the demo data: {}", e.message))?;
    let password = clv_serve::users::random_secret(16);
    let admin = clv_serve::auth::Role::Admin;
    clv_serve::users::create(store, shop.id, DEMO_USER, &password, admin).await?;
    Ok((key, password))
}

/// Resolves on Ctrl-C or SIGTERM: requests in flight finish, new ones are refused.
async fn shutdown() {
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

pub fn shop(command: &ShopCommand) -> Result<()> {
    let (name, timezone, currency, database) = match command {
        ShopCommand::Create { name, timezone, currency, database } => {
            (name, timezone, currency, database)
        }
        ShopCommand::Key { name, role, database } => return key(name, role, database.url()),
        ShopCommand::User { name, email, role, database } => {
            return user(name, email, role, database.url())
        }
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database.url()).await?;
        let new = clv_serve::NewShop { name, timezone, currency };
        let (shop, key) = clv_serve::create_shop(&store, &new).await?;
        eprintln!(
            "created shop `{}` ({}, {}); its admin API key (shown once, keep it):",
            shop.name,
            shop.timezone.name(),
            shop.currency.code()
        );
        println!("{key}");
        Ok(())
    })
}

pub fn import(args: &ImportArgs, threads: usize) -> Result<()> {
    let input = &args.input;
    let path = &input.orders;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let options = clv_serve::imports::ImportOptions {
        read: crate::input::read_options(input, threads)?,
        date_format: input.date_format.clone(),
        strict: input.strict,
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(args.database.url()).await?;
        let shop = clv_serve::shops::by_name(&store, &args.shop).await?;
        let name = path.display().to_string();
        let report = clv_serve::imports::import(&store.writer, &shop, name, bytes, options)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message))?;
        for r in &report.examples {
            eprintln!("{}:{}: column `{}` value `{}`: {}", path.display(), r.line, r.column, r.value, r.reason);
        }
        eprintln!(
            "imported {} orders ({} refunds) into shop `{}` from {}: {} rows, {} accepted, {} rejected",
            report.orders, report.refunds, shop.name, path.display(), report.rows, report.accepted, report.rejected
        );
        Ok(())
    })
}

pub fn store(command: &StoreCommand) -> Result<()> {
    let StoreCommand::Check { database } = command;
    let database = database.url();
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let problems = store.check().await?;
        problems.iter().for_each(|p| eprintln!("{database}: {p}"));
        anyhow::ensure!(problems.is_empty(), "{database}: {} problems", problems.len());
        eprintln!("{database}: the integrity checks found nothing wrong");
        Ok(())
    })
}

fn role(text: &str) -> Result<clv_serve::auth::Role> {
    clv_serve::auth::Role::parse(text)
        .with_context(|| format!("--role {text}: use read, write or admin"))
}

fn user(name: &str, email: &str, role_name: &str, database: &str) -> Result<()> {
    let role = role(role_name)?;
    let password = match std::env::var("CLV_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let shop = clv_serve::shops::by_name(&store, name).await?;
        clv_serve::users::create(&store, shop.id, email, &password, role).await?;
        eprintln!("added {} user {email} to shop `{}`: log in at /login", role.name(), shop.name);
        Ok(())
    })
}

fn key(name: &str, role_name: &str, database: &str) -> Result<()> {
    let role = role(role_name)?;
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let shop = clv_serve::shops::by_name(&store, name).await?;
        let key = clv_serve::shops::new_key(&store, &shop, role).await?;
        eprintln!("a new {} key for shop `{}` (shown once, keep it):", role.name(), shop.name);
        println!("{key}");
        Ok(())
    })
}

pub fn journeys(command: &JourneysCommand) -> Result<()> {
    let (shop, database) = match command {
        JourneysCommand::Library => {
            for (id, text) in clv_journeys::library::BUILT_IN {
                let journey = clv_journeys::Journey::parse(text)?;
                println!("{id:<18} {}: {}", journey.name, journey.description);
            }
            return Ok(());
        }
        JourneysCommand::List { shop, database }
        | JourneysCommand::Enable { shop, database, .. }
        | JourneysCommand::Disable { shop, database, .. }
        | JourneysCommand::Save { shop, database, .. } => (shop, database.url()),
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let shop = clv_serve::shops::by_name(&store, shop).await?;
        let failed = |e: clv_serve::ApiError| anyhow::anyhow!("{}", e.message);
        match command {
            JourneysCommand::Enable { id, .. } | JourneysCommand::Disable { id, .. } => {
                let on = matches!(command, JourneysCommand::Enable { .. });
                let version = clv_serve::journeys::enable(&store, shop.id, id, on).await.map_err(failed)?;
                let state = if on { "on" } else { "off" };
                eprintln!("journey `{id}` (version {version}) of shop `{}` is {state}", shop.name);
            }
            JourneysCommand::Save { file, .. } => {
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                let (journey, version) = clv_serve::journeys::save(&store, shop.id, &text)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
                eprintln!("saved journey `{}` as version {version} (enable it with `clv journeys enable {}`)", journey.id, journey.id);
            }
            _ => {
                for j in clv_serve::journeys::list(&store, shop.id).await.map_err(failed)? {
                    let count = |m: &std::collections::HashMap<String, i64>, k: &str| m.get(k).copied().unwrap_or(0);
                    let skipped: Vec<String> = j.skipped.iter().map(|(r, n)| format!("{r} {n}")).collect();
                    println!(
                        "{:<18} v{} {:<3} runs: {} active, {} done, {} exited ({} holdout); messages: {} sent, {} pending, {} skipped{}",
                        j.id, j.version, if j.enabled { "on" } else { "off" },
                        count(&j.runs, "active"), count(&j.runs, "done"), count(&j.runs, "exited"), j.holdout,
                        count(&j.messages, "sent"), count(&j.messages, "pending"), count(&j.messages, "skipped") + count(&j.messages, "failed"),
                        if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join(", ")) }
                    );
                }
            }
        }
        Ok(())
    })
}
