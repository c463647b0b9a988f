//! `clv serve` as a process, for the test files that run it: start it on a database, call its
//! API, stop it (or kill it); fresh databases of both kinds; a shop and its key.
#![allow(dead_code)]

use super::common;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `clv serve` on `database`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub http: ureq::Agent,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(database: &str) -> Server {
        Server::start_with(&["--database", database])
    }

    /// `clv serve` with `options`; what it logs after its first line is kept in `log`.
    pub fn start_with(options: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clv"))
            .args(["serve", "--listen", "127.0.0.1:0", "--threads", "1"])
            .args(options)
            .stderr(Stdio::piped())
            .spawn()
            .expect("clv serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // With -v, other lines (migrations, notices) may come before the address.
        let mut before = Vec::new();
        let base = loop {
            let Some(line) = lines.next().and_then(Result::ok) else {
                let _ = child.kill();
                panic!("clv serve did not start: {before:?}");
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            before.push(line);
        };
        // Keep reading what it logs, so that it never writes into a closed pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(before));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("clv serve: {line}");
                kept.lock().unwrap().push(line);
            }
        });
        // A new connection per request: a refused request's unread body makes the server close
        // its connection, which a pooled client would only find on its next request.
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .build()
            .into();
        Server {
            child,
            base,
            http,
            log,
        }
    }

    /// `method` `path` with `key` and an optional JSON body: (status, JSON answer).
    pub fn call(&self, method: &str, path: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_with(
            method,
            path,
            &[("Authorization", &format!("Bearer {key}"))],
            body,
        )
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        let body = body.map_or(String::new(), |b| b.to_string());
        let json = [headers, &[("content-type", "application/json")]].concat();
        self.raw(method, path, &json, body)
    }

    /// Like [`Server::call`] with a JSON body, but `None` when the connection fails (the server
    /// was killed).
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Option<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap();
        let mut response = self.http.run(request).ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// `method` `path` with `headers` and `body` as it is: (status, JSON answer or the text).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(body).unwrap();
        let mut response = self.http.run(request).expect("the server answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database of each kind: a SQLite file, and a new database in CLV_TEST_POSTGRES.
pub fn databases(dir: &std::path::Path, name: &str) -> Vec<String> {
    super::postgres::database_urls(dir, name)
}

/// A shop on `database` and its admin key.
pub fn shop(database: &str, name: &str) -> String {
    let out = common::clv(&[
        "shop",
        "create",
        name,
        "--timezone",
        "UTC",
        "--currency",
        "USD",
        "--database",
        database,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
