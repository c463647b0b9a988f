//! Shops: the tenant every row belongs to, with the time zone its days are counted in and the
//! currency its money is kept in.

use crate::auth::{self, Role};
use crate::{ServeError, Store};
use chrono_tz::Tz;
use iso_currency::Currency;

/// A shop as requests see it.
#[derive(Debug, Clone)]
pub struct Shop {
    pub id: i64,
    pub name: String,
    pub timezone: Tz,
    pub currency: Currency,
}

impl Shop {
    /// Digits after the decimal point in the shop's currency (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_digits(&self) -> u32 {
        self.currency.exponent().unwrap_or(0) as u32
    }

    /// Money in `code` is refused unless it is the shop's currency: nothing is converted.
    pub fn accepts_currency(&self, code: &str) -> Result<(), String> {
        if code.eq_ignore_ascii_case(self.currency.code()) {
            return Ok(());
        }
        let own = self.currency.code();
        Err(format!(
            "is {code}, the shop keeps {own}: convert before sending"
        ))
    }
}

/// What `clv shop create` asks for.
#[derive(Debug, Clone)]
pub struct NewShop<'a> {
    pub name: &'a str,
    /// IANA zone, e.g. Europe/Berlin.
    pub timezone: &'a str,
    /// ISO 4217 code, e.g. EUR.
    pub currency: &'a str,
}

pub fn parse_timezone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!(
            "`{text}` is not an IANA time zone: use a name like Europe/Berlin or America/New_York"
        )
    })
}

pub fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::from_code(&text.to_ascii_uppercase()).ok_or_else(|| {
        format!("`{text}` is not an ISO 4217 currency code: use three letters like EUR, USD, JPY")
    })
}

/// Create a shop and its first admin key; returns the shop and the key (shown once: only its
/// hash is stored).
pub async fn create_shop(store: &Store, new: &NewShop<'_>) -> Result<(Shop, String), ServeError> {
    let timezone = parse_timezone(new.timezone).map_err(ServeError::Invalid)?;
    let currency = parse_currency(new.currency).map_err(ServeError::Invalid)?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ServeError::Invalid(
            "a shop name is 1 to 200 characters".into(),
        ));
    }
    let mut tx = store.writer.begin().await?;
    let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM shops WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(ServeError::Invalid(format!(
            "a shop named `{name}` exists: pick another name"
        )));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO shops (name, timezone, currency, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(timezone.name())
    .bind(currency.code())
    .bind(crate::store::now())
    .fetch_one(&mut *tx)
    .await?;
    let key = auth::insert_key(&mut tx, id, Role::Admin).await?;
    tx.commit().await?;
    Ok((
        Shop {
            id,
            name: name.to_string(),
            timezone,
            currency,
        },
        key,
    ))
}

/// The shop with database id `id`.
pub async fn load(store: &Store, id: i64) -> Result<Shop, sqlx::Error> {
    let (name, zone, code): (String, String, String) =
        sqlx::query_as("SELECT name, timezone, currency FROM shops WHERE id = $1")
            .bind(id)
            .fetch_one(&store.pool)
            .await?;
    // Both were checked when the shop was made.
    let timezone = parse_timezone(&zone).unwrap_or(Tz::UTC);
    let currency = parse_currency(&code).unwrap_or(Currency::USD);
    Ok(Shop {
        id,
        name,
        timezone,
        currency,
    })
}

/// Every shop's id.
pub async fn all(store: &Store) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT id FROM shops ORDER BY id")
        .fetch_all(&store.pool)
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The shop named `name`.
pub async fn by_name(store: &Store, name: &str) -> Result<Shop, ServeError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM shops WHERE name = $1")
        .bind(name)
        .fetch_optional(&store.pool)
        .await?;
    let (id,) = row.ok_or_else(|| {
        ServeError::Invalid(format!(
            "no shop named `{name}`: create it with `clv shop create`"
        ))
    })?;
    Ok(load(store, id).await?)
}

/// Another key with `role` for `shop`; returns it (only its hash is stored).
pub async fn new_key(store: &Store, shop: &Shop, role: Role) -> Result<String, sqlx::Error> {
    let mut tx = store.writer.begin().await?;
    let key = auth::insert_key(&mut tx, shop.id, role).await?;
    tx.commit().await?;
    Ok(key)
}
