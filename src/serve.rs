//! `clv serve` and `clv shop`: options into the service's config, the runtime, and what the
//! operator is told.

use crate::cli::{ImportArgs, JourneysCommand, ServeArgs, ShopCommand, StoreCommand};
use anyhow::{Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

pub fn serve(args: &ServeArgs, threads: usize) -> Result<()> {
    let flags = clv_serve::settings::Settings {
        database: args.database.database.clone(),
        listen: args.listen,
        rescore_every: args.rescore_every.clone(),
        rate_limit: args.rate_limit,
        public_url: args.public_url.clone(),
    };
    let file = args.config.as_deref().map(clv_serve::settings::Settings::from_file);
    let (database, config) = flags.or(file.transpose()?.unwrap_or_default()).resolve(threads)?;
    let database = if args.demo { clv_serve::demo::fresh_database()? } else { database };
    runtime()?.block_on(async {
        let store = clv_serve::Store::open(&database).await?;
        let demo = match args.demo {
            true => Some(clv_serve::demo::seed(&store, crate::demo::CDNOW.into(), threads).await?),
            false => None,
        };
        let ready = |at| {
            eprintln!("clv serve: listening on http://{at} ({database})");
            if let Some(demo) = &demo {
                let (shop, user, key) = (clv_serve::demo::SHOP, clv_serve::demo::USER, &demo.key);
                eprintln!("demo shop `{shop}` (CDNOW sample, scored as of 1998-06-30); its admin key:");
                eprintln!("  {key}");
                eprintln!("try: curl -s http://{at}/api/v1/customers/1981 -H \"Authorization: Bearer {key}\"");
                eprintln!("dashboard: http://{at}/ (log in as {user}, password {})", demo.password);
            }
        };
        clv_serve::serve(store, config, ready, clv_serve::shutdown_signal()).await?;
        eprintln!("clv serve: stopped");
        Ok(())
    })
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
        let report = clv_serve::imports::import(&store.writer, &shop, name.clone(), bytes, options)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {}", e.message))?;
        report.lines(&name, &shop.name).iter().for_each(|line| eprintln!("{line}"));
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
                for journey in clv_serve::journeys::list(&store, shop.id).await.map_err(failed)? {
                    println!("{}", journey.line());
                }
            }
        }
        Ok(())
    })
}
