//! The service's settings from its sources, most specific first: flags, environment variables,
//! the TOML config file, then the defaults. The binary reads flags and the environment; this
//! module reads the file and fills in the rest.

use crate::{ServeConfig, ServeError};
use std::net::SocketAddr;
use std::path::Path;

/// Where the store is when nothing says.
pub const DEFAULT_DATABASE: &str = "clv-data/clv.db";
/// Requests a second each API key may make when nothing says.
pub const DEFAULT_RATE_LIMIT: f64 = 1000.0;

/// What one source says; `None` where it is silent. The config file's keys are these names.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A SQLite file (created on first use) or `postgres://…`.
    pub database: Option<String>,
    pub listen: Option<SocketAddr>,
    /// Refit and rescore every shop this often (`24h`, `7d`, or a number of days).
    pub rescore_every: Option<String>,
    /// Requests a second each API key may make.
    pub rate_limit: Option<f64>,
    /// The address customers reach the service at (for unsubscribe links).
    pub public_url: Option<String>,
}

impl Settings {
    /// The settings in a TOML file; an unknown key is an error that names it.
    pub fn from_file(path: &Path) -> Result<Settings, ServeError> {
        let place = || format!("{}: the service's config file", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Invalid(format!("{}: {e}", place())))?;
        toml::from_str(&text).map_err(|e| ServeError::Invalid(format!("{}: {e}", place())))
    }

    /// These settings, with `fallback`'s where these are silent.
    pub fn or(self, fallback: Settings) -> Settings {
        Settings {
            database: self.database.or(fallback.database),
            listen: self.listen.or(fallback.listen),
            rescore_every: self.rescore_every.or(fallback.rescore_every),
            rate_limit: self.rate_limit.or(fallback.rate_limit),
            public_url: self.public_url.or(fallback.public_url),
        }
    }

    /// The database to open and the service's config, defaults filled in and values checked.
    pub fn resolve(self, threads: usize) -> Result<(String, ServeConfig), ServeError> {
        let rescore_every = match &self.rescore_every {
            Some(text) => {
                let days = clv_data::time::parse_days(text)
                    .map_err(|e| ServeError::Invalid(format!("rescore_every `{text}`: {e}")))?;
                Some(clv_score::config::days(days))
            }
            None => None,
        };
        let rate_limit = self.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        if !(rate_limit.is_finite() && rate_limit > 0.0) {
            let why =
                format!("rate limit {rate_limit} is not a positive number of requests a second");
            return Err(ServeError::Invalid(why));
        }
        let config = ServeConfig {
            listen: self.listen.unwrap_or(([127, 0, 0, 1], 8080).into()),
            threads,
            rescore_every,
            requests_per_second: rate_limit,
            public_url: self.public_url,
        };
        Ok((self.database.unwrap_or(DEFAULT_DATABASE.into()), config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `first.or(second).resolve(1)` written as `database listen every-seconds rate url`, or
    /// an error whose text holds `expect`'s.
    fn check(first: Settings, second: Settings, expect: Result<&str, &str>) {
        let got = first.or(second).resolve(1).map(|(db, c)| {
            let every = c.rescore_every.map(|d| d.as_secs());
            let (rate, url) = (c.requests_per_second, c.public_url);
            format!("{db} {} {every:?} {rate} {url:?}", c.listen)
        });
        match (got, expect) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, want) => panic!("{got:?} vs {want:?}"),
        }
    }

    #[test]
    fn the_first_source_that_says_wins_then_the_defaults() {
        let none = Settings::default();
        check(
            none.clone(),
            none.clone(),
            Ok("clv-data/clv.db 127.0.0.1:8080 None 1000 None"),
        );
        let flags = Settings {
            rate_limit: Some(5.0),
            rescore_every: Some("24h".into()),
            ..none.clone()
        };
        let file = Settings {
            database: Some("x.db".into()),
            rate_limit: Some(2.0),
            listen: Some("0.0.0.0:9".parse().unwrap()),
            public_url: Some("https://m.example".into()),
            ..none.clone()
        };
        check(
            flags,
            file,
            Ok("x.db 0.0.0.0:9 Some(86400) 5 Some(\"https://m.example\")"),
        );
        let zero = Settings {
            rate_limit: Some(0.0),
            ..none.clone()
        };
        check(
            zero,
            none.clone(),
            Err("rate limit 0 is not a positive number"),
        );
        let bad = Settings {
            rescore_every: Some("often".into()),
            ..none.clone()
        };
        check(bad, none, Err("rescore_every `often`"));
    }

    #[test]
    fn a_file_with_an_unknown_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clv.toml");
        std::fs::write(&path, "rate_limit = 3.5\nlisten = \"127.0.0.1:1\"\n").unwrap();
        let read = Settings::from_file(&path).unwrap();
        assert_eq!(
            (read.rate_limit, read.listen),
            (Some(3.5), Some("127.0.0.1:1".parse().unwrap()))
        );
        std::fs::write(&path, "databse = \"x.db\"\n").unwrap();
        let e = Settings::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("databse") && e.contains("clv.toml"), "{e}");
    }
}
