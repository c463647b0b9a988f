//! Fresh databases for the service's tests, shared by the binary's and the service crate's test
//! files: a SQLite file, and a new database in the PostgreSQL that tools/with-postgres.sh started.

use std::process::Command;

/// A SQLite path in `dir` and a new PostgreSQL database URL, both named after `name`.
pub fn database_urls(dir: &std::path::Path, name: &str) -> Vec<String> {
    let sqlite = dir.join(format!("{name}.db")).display().to_string();
    let Ok(server) = std::env::var("CLV_TEST_POSTGRES") else {
        panic!(
            "the service tests need PostgreSQL: run them as `tools/with-postgres.sh cargo test`"
        );
    };
    let db = format!("clv_{name}_{}", std::process::id());
    let created = Command::new("psql")
        .args([&server, "-qc", &format!("CREATE DATABASE {db}")])
        .status();
    assert!(
        created.is_ok_and(|s| s.success()),
        "creating {db} in {server}"
    );
    let postgres = format!("{}/{db}", server.rsplit_once('/').unwrap().0);
    vec![sqlite, postgres]
}
