//! `clv serve --demo`: a shop seeded with the CDNOW sample, scored, with a dashboard user, so a
//! newcomer has something to look at and call.

use crate::{api, imports, rescore, users, ApiError, ServeError, Store};

/// The demo shop's name and its dashboard user.
pub const SHOP: &str = "demo";
pub const USER: &str = "demo@example.com";
/// The day the demo is scored as of: the end of the CDNOW sample.
pub const AS_OF: (i32, u32, u32) = (1998, 6, 30);

/// What a newcomer needs to get in.
pub struct DemoShop {
    /// The shop's admin API key.
    pub key: String,
    /// The dashboard user's password (random each time).
    pub password: String,
}

/// Create shop [`SHOP`] in `store`, import `cdnow` (the CDNOW sample's layout: whitespace
/// separated master id, customer id, yyyymmdd, CDs, dollars), score it as of [`AS_OF`] on
/// `threads` threads, and add [`USER`] as its admin.
pub async fn seed(store: &Store, cdnow: Vec<u8>, threads: usize) -> Result<DemoShop, ServeError> {
    let failed = |what: &str, e: ApiError| {
        ServeError::Invalid(format!("{what} the demo data: {}", e.message))
    };
    let new = crate::NewShop {
        name: SHOP,
        timezone: "UTC",
        currency: "USD",
    };
    let (shop, key) = crate::create_shop(store, &new).await?;
    let columns = clv_data::ColumnSpec {
        customer: Some("2".into()),
        date: Some("3".into()),
        amount: Some("5".into()),
        ..Default::default()
    };
    let read = clv_data::ReadOptions {
        columns,
        threads: 1,
        ..Default::default()
    };
    let options = imports::ImportOptions {
        read,
        ..Default::default()
    };
    let imported = imports::import(&store.writer, &shop, "CDNOW".into(), cdnow, options).await;
    imported.map_err(|e| failed("importing", e))?;
    let state = api::AppState::new(store.clone(), threads, f64::INFINITY);
    let as_of = chrono::NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2);
    let run = rescore::rescore(&state, &shop, as_of).await;
    run.map_err(|e| failed("scoring", e))?;
    let password = users::random_secret(16);
    users::create(store, shop.id, USER, &password, crate::auth::Role::Admin).await?;
    Ok(DemoShop { key, password })
}

/// A fresh SQLite file in the temp folder for the demo store (the folder is emptied first).
pub fn fresh_database() -> Result<String, ServeError> {
    let dir = std::env::temp_dir().join("clv-demo-serve");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ServeError::Invalid(format!("clearing {}: {e}", dir.display())))?;
    }
    Ok(dir.join("clv.db").display().to_string())
}
