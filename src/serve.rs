//! `clv serve` and `clv shop`: options into the service's config, the runtime, and what the
//! operator is told.

use crate::cli::{ImportArgs, ServeArgs, ShopCommand, StoreCommand};
use anyhow::{Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

pub fn serve(args: &ServeArgs, threads: usize) -> Result<()> {
    let rescore_every = match &args.rescore_every {
        Some(text) => Some(clv_score::config::days(clv_data::time::parse_days(text)?)),
        None => None,
    };
    let config = clv_serve::ServeConfig { listen: args.listen, threads, rescore_every };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(&args.database.database).await?;
        let ready =
            |at| eprintln!("clv serve: listening on http://{at} ({})", args.database.database);
        clv_serve::serve(store, config, ready, shutdown()).await?;
        eprintln!("clv serve: stopped");
        Ok(())
    })
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
        ShopCommand::Key { name, role, database } => return key(name, role, &database.database),
    };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(&database.database).await?;
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
        let store = clv_serve::Store::open(&args.database.database).await?;
        let shop = clv_serve::shops::by_name(&store, &args.shop).await?;
        let name = path.display().to_string();
        let report = clv_serve::imports::import(&store.pool, &shop, name, bytes, options)
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
    let database = &database.database;
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let problems = store.check().await?;
        problems.iter().for_each(|p| eprintln!("{database}: {p}"));
        anyhow::ensure!(problems.is_empty(), "{database}: {} problems", problems.len());
        eprintln!("{database}: the integrity checks found nothing wrong");
        Ok(())
    })
}

fn key(name: &str, role: &str, database: &str) -> Result<()> {
    let role = clv_serve::auth::Role::parse(role)
        .with_context(|| format!("--role {role}: use read, write or admin"))?;
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(database).await?;
        let shop = clv_serve::shops::by_name(&store, name).await?;
        let key = clv_serve::shops::new_key(&store, &shop, role).await?;
        eprintln!("a new {} key for shop `{}` (shown once, keep it):", role.name(), shop.name);
        println!("{key}");
        Ok(())
    })
}
