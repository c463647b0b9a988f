//! The `clv` binary end to end: the README's commands on the bundled data, checked against
//! lifetimes' fixtures and naive recomputations from the raw file.

use std::collections::{BTreeMap, BTreeSet};
mod common;
use common::{clv, data, CDNOW_COLUMNS};
use std::path::Path;
use std::process::{Command, Output};

fn ok(args: &[&str]) -> Output {
    let out = clv(args);
    assert!(
        out.status.success(),
        "clv {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stdout of a successful run.
fn stdout_of(args: &[&str]) -> String {
    String::from_utf8_lossy(&ok(args).stdout).to_string()
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn cdnow_summary_csv_equals_lifetimes_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("summary.csv");
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec!["summary", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend([
        "--time-unit",
        "week",
        "--calibration-end",
        "1997-09-30",
        "--observation-end",
        "1998-06-30",
        "-o",
        out.to_str().unwrap(),
    ]);
    ok(&args);
    let ours = read_csv(&out);
    let theirs: BTreeMap<String, BTreeMap<String, String>> =
        read_csv(&data("cdnow_calibration_holdout_lifetimes.csv"))
            .into_iter()
            .map(|r| (r["customer_id"].clone(), r))
            .collect();
    assert_eq!(ours.len(), 2357);
    let pairs = [
        ("frequency", "frequency_cal"),
        ("recency", "recency_cal"),
        ("T", "T_cal"),
        ("monetary_value", "monetary_value_cal"),
        ("frequency_holdout", "frequency_holdout"),
        ("monetary_value_holdout", "monetary_value_holdout"),
        ("duration_holdout", "duration_holdout"),
    ];
    for row in &ours {
        let want = &theirs[&row["customer_id"]];
        for (mine, lifetimes) in pairs {
            let (a, b): (f64, f64) = (row[mine].parse().unwrap(), want[lifetimes].parse().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{} {mine}: {a} vs {b}",
                row["customer_id"]
            );
        }
    }
}

/// Naive shop figures straight from the raw CDNOW lines.
struct Naive {
    customers: usize,
    orders: usize,
    revenue: f64,
    repeaters: usize,
    retained: usize,
    active_previous: usize,
}

fn naive_cdnow() -> Naive {
    let text = std::fs::read_to_string(data("CDNOW_sample.txt")).unwrap();
    let mut days: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut orders = 0;
    let mut revenue = 0.0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let date = chrono::NaiveDate::parse_from_str(f[2], "%Y%m%d").unwrap();
        let day = date
            .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days();
        days.entry(f[1].to_string()).or_default().insert(day);
        orders += 1;
        revenue += f[4].parse::<f64>().unwrap();
    }
    let end = chrono::NaiveDate::from_ymd_opt(1998, 6, 30)
        .unwrap()
        .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days();
    let in_window = |d: &BTreeSet<i64>, from: i64, to: i64| d.iter().any(|&x| x > from && x <= to);
    let previous: Vec<&BTreeSet<i64>> = days
        .values()
        .filter(|d| in_window(d, end - 180, end - 90))
        .collect();
    Naive {
        customers: days.len(),
        orders,
        revenue,
        repeaters: days.values().filter(|d| d.len() > 1).count(),
        active_previous: previous.len(),
        retained: previous
            .iter()
            .filter(|d| in_window(d, end - 90, end))
            .count(),
    }
}

#[test]
fn cdnow_metrics_equal_a_naive_recomputation() {
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec!["metrics", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend(["--window", "90d", "--cac", "25", "--format", "json"]);
    let out = ok(&args);
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = naive_cdnow();
    let close = |v: &serde_json::Value, want: f64| {
        let got = v.as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-6 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    };
    assert_eq!(m["customers"], n.customers as u64);
    assert_eq!(m["orders"], n.orders as u64);
    close(&m["revenue"], n.revenue);
    close(&m["average_order_value"], n.revenue / n.orders as f64);
    close(
        &m["purchase_frequency"],
        n.orders as f64 / n.customers as f64,
    );
    close(
        &m["repeat_purchase_rate"],
        n.repeaters as f64 / n.customers as f64,
    );
    assert_eq!(m["retention"]["active_previous"], n.active_previous as u64);
    assert_eq!(m["retention"]["retained"], n.retained as u64);
    close(
        &m["retention"]["churn_rate"],
        1.0 - n.retained as f64 / n.active_previous as f64,
    );
    close(
        &m["ltv_to_cac"]["ratio"],
        n.revenue / n.customers as f64 / 25.0,
    );
    let cohorts = m["cohorts"].as_array().unwrap();
    let months: Vec<&str> = cohorts
        .iter()
        .map(|c| c["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["1997-01", "1997-02", "1997-03"]);
    let sizes: u64 = cohorts
        .iter()
        .map(|c| c["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(sizes, n.customers as u64);
    for c in cohorts {
        assert_eq!(c["retention"][0], 1.0);
    }
}

#[test]
fn parquet_and_csv_inputs_give_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for file in ["log.csv", "log.parquet"] {
        ok(&[
            "simulate",
            "--customers",
            "3000",
            "--seed",
            "9",
            "--skus",
            "40",
            "-o",
            &p(file),
        ]);
    }
    assert_eq!(&std::fs::read(p("log.parquet")).unwrap()[..4], b"PAR1");
    for (input, output) in [
        ("log.csv", "from_csv.csv"),
        ("log.parquet", "from_parquet.csv"),
    ] {
        ok(&[
            "summary",
            &p(input),
            "--time-unit",
            "week",
            "-o",
            &p(output),
        ]);
    }
    let (a, b) = (
        std::fs::read(p("from_csv.csv")).unwrap(),
        std::fs::read(p("from_parquet.csv")).unwrap(),
    );
    assert!(a.len() > 10_000 && a == b, "summaries differ");
    // Orders are counted by order id, not by SKU line.
    let log = read_csv(Path::new(&p("log.csv")));
    let distinct: BTreeSet<&str> = log.iter().map(|r| r["order_id"].as_str()).collect();
    let summary = read_csv(Path::new(&p("from_csv.csv")));
    let orders: usize = summary
        .iter()
        .map(|r| r["orders"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(orders, distinct.len());
    ok(&["summary", &p("log.parquet"), "-o", &p("summary.parquet")]);
    assert_eq!(&std::fs::read(p("summary.parquet")).unwrap()[..4], b"PAR1");
    let json = ok(&["summary", &p("log.csv"), "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), summary.len());
}

#[test]
fn bad_rows_are_reported_written_and_fatal_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, "customer_id,date,amount\nc1,2024-01-01,10\nc2,31/12/2024,5\n,2024-01-03,4\nc1,2024-01-09,3\n").unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = ok(&[
        "summary",
        orders.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 rows, 2 accepted, 2 rejected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad_date") && stderr.contains("missing_customer"),
        "{stderr}"
    );
    let written = read_csv(&rejects);
    assert_eq!(written.len(), 2);
    assert_eq!(
        (written[0]["line"].as_str(), written[0]["value"].as_str()),
        ("3", "31/12/2024")
    );
    let strict = clv(&["summary", orders.to_str().unwrap(), "--strict"]);
    assert!(!strict.status.success());
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stderr.contains(":3: column `date` value `31/12/2024`"),
        "{stderr}"
    );
    // The same file reads cleanly with the right date format.
    let fixed = ok(&[
        "summary",
        orders.to_str().unwrap(),
        "--date-format",
        "%d/%m/%Y",
        "--format",
        "csv",
    ]);
    assert!(String::from_utf8_lossy(&fixed.stderr).contains("3 accepted"));
}

#[test]
fn demo_runs_and_points_the_way() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clv"))
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // The simulated shop's report fills the product sections the CDNOW sample cannot.
    let shop = std::fs::read_to_string(tmp.path().join("clv-demo/shop-report.html")).unwrap();
    let cdnow = std::fs::read_to_string(tmp.path().join("clv-demo/cdnow-report.html")).unwrap();
    let no_skus = "This file has no SKU column";
    assert!(cdnow.contains(no_skus) && !shop.contains(no_skus));
    assert!(shop.contains("reminders are due") && shop.contains("<th>lift</th>"));
    assert!(
        text.contains("2,357 customers, 2,457 repeat purchases"),
        "{text}"
    );
    assert!(text.contains("1,882 purchases"), "{text}");
    assert!(text.contains("Try next"), "{text}");
}

#[test]
fn fit_prints_and_saves_the_published_cdnow_models() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = data("CDNOW_sample.txt");
    // (model, published estimates, published log-likelihood)
    type Case<'a> = (&'a str, &'a [(&'a str, f64)], f64);
    let cases: [Case; 2] = [
        (
            "bgnbd",
            &[
                ("r", 0.242595),
                ("alpha", 4.413602),
                ("a", 0.792922),
                ("b", 2.425907),
            ],
            -9582.4292,
        ),
        (
            "gg",
            &[("p", 6.249575), ("q", 3.744224), ("gamma", 15.443512)],
            -4055.9177,
        ),
    ];
    for (model, params, ll) in cases {
        let saved = dir.path().join(format!("{model}.json"));
        let mut args = vec!["fit", cdnow.to_str().unwrap()];
        args.extend(CDNOW_COLUMNS);
        args.extend([
            "--calibration-end",
            "1997-09-30",
            "--observation-end",
            "1998-06-30",
            "--model",
            model,
            "-o",
            saved.to_str().unwrap(),
        ]);
        let out = ok(&args);
        assert!(String::from_utf8_lossy(&out.stdout).contains("95% interval"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
        assert_eq!(
            (
                json["format"].as_str(),
                json["version"].as_u64(),
                json["kind"].as_str()
            ),
            (Some("clv-model"), Some(1), Some(model))
        );
        for (name, want) in params {
            let got = json["parameters"][name].as_f64().unwrap();
            assert!(
                (got - want).abs() / want < 1e-4,
                "{model} {name}: {got} vs {want}"
            );
        }
        assert!((json["fit"]["log_likelihood"].as_f64().unwrap() - ll).abs() < 1e-3);
        assert_eq!(json["data"]["observation_end"], "1997-09-30");
    }
}

#[test]
fn score_with_saved_models_equals_score_with_fresh_fits() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let cdnow = data("CDNOW_sample.txt");
    let base = |cmd: &'static str| {
        let mut args = vec![cmd.to_string(), cdnow.to_str().unwrap().to_string()];
        args.extend(CDNOW_COLUMNS.iter().map(|s| s.to_string()));
        args.extend(["--observation-end".to_string(), "1997-09-30".to_string()]);
        args
    };
    let run = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // The default purchase model, so the fresh score fits the same one.
    for (model, file) in [("mbgnbd", "purchase.json"), ("gg", "spend.json")] {
        let mut args = base("fit");
        args.extend(["--model".into(), model.into(), "-o".into(), p(file)]);
        run(args);
    }
    let mut fresh = base("score");
    fresh.extend(["-o".into(), p("fresh.csv")]);
    run(fresh);
    let mut saved = base("score");
    saved.extend([
        "--model-file".into(),
        p("purchase.json"),
        "--model-file".into(),
        p("spend.json"),
        "-o".into(),
        p("saved.csv"),
    ]);
    run(saved);
    assert_eq!(
        std::fs::read(p("fresh.csv")).unwrap(),
        std::fs::read(p("saved.csv")).unwrap()
    );
    let rows = read_csv(Path::new(&p("saved.csv")));
    assert_eq!(rows.len(), 2357);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("purchase.json")).unwrap()).unwrap();
    let param = |k: &str| saved["parameters"][k].as_f64().unwrap();
    let (shape_r, alpha, a, b) = (param("r"), param("alpha"), param("a"), param("b"));
    // lifetimes' monthly scheme over the same year lands within a few percent of continuous
    // discounting (same purchases, discounted at month ends instead of when they happen).
    let mut monthly = base("score");
    monthly.extend([
        "--discounting".into(),
        "lifetimes".into(),
        "-o".into(),
        p("monthly.csv"),
    ]);
    run(monthly);
    for (a, b) in rows.iter().zip(read_csv(Path::new(&p("monthly.csv")))) {
        let (c, m): (f64, f64) = (
            a["predicted_clv"].parse().unwrap(),
            b["predicted_clv"].parse().unwrap(),
        );
        assert!(
            (c - m).abs() <= 0.03 * c.max(1e-9),
            "{}: {c} vs {m}",
            a["customer_id"]
        );
    }
    for r in &rows {
        let f = |k: &str| r[k].parse::<f64>().unwrap();
        assert!((0.0..=1.0).contains(&f("p_alive")));
        assert!((f("churn_probability") - (1.0 - f("p_alive"))).abs() < 1e-12);
        assert!(
            f("predicted_clv") >= 0.0
                && f("predicted_clv") <= f("expected_spend") * f("expected_purchases") + 1e-9
        );
        assert!(
            (f("total_clv") - f("historic_clv") - f("predicted_clv")).abs()
                < 1e-9 * f("total_clv").max(1.0)
        );
        // MBG/NBD (the default) lets a one-time buyer be gone: P(alive) = 1 / (1 + (a/b)
        // ((α+T)/α)^r) at x = 0, Batislam et al. (2007), in closed form.
        if f("frequency") == 0.0 {
            let want = 1.0 / (1.0 + (a / b) * ((alpha + f("T")) / alpha).powf(shape_r));
            assert!(
                (f("p_alive") - want).abs() < 1e-9,
                "{}: {} vs {want}",
                r["customer_id"],
                f("p_alive")
            );
            assert!(f("p_alive") < 1.0);
        }
    }
}

#[test]
fn validate_reports_cdnow_holdout_and_each_models_prediction_like_lifetimes() {
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec!["validate", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend(["--calibration-end", "1997-09-30", "--format", "json"]);
    let out = ok(&args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["actual_holdout_purchases"], 1882);
    assert_eq!(v["holdout_weeks"], 39);
    assert_eq!(v["customers"], 2357);
    // Actual means by calibration frequency, recomputed from lifetimes' calibration/holdout table.
    let rows = read_csv(&data("cdnow_calibration_holdout_lifetimes.csv"));
    let mut sums = [(0.0f64, 0.0f64); 8];
    for r in &rows {
        let g = (r["frequency_cal"].parse::<f64>().unwrap() as usize).min(7);
        sums[g].0 += 1.0;
        sums[g].1 += r["frequency_holdout"].parse::<f64>().unwrap();
    }
    for (g, (n, total)) in sums.iter().enumerate() {
        let got = v["actual_by_frequency"][g].as_f64().unwrap();
        assert!((got - total / n).abs() < 1e-12, "group {g}: {got}");
    }
    let cumulative = v["actual_cumulative"].as_array().unwrap();
    assert_eq!(cumulative.len(), 39);
    assert_eq!(cumulative[38], 1882.0);
    // Each model's holdout prediction equals lifetimes' (its own fit, summed over customers).
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("lifetimes_models.json")).unwrap())
            .unwrap();
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    for m in models {
        let name = m["model"].as_str().unwrap();
        let want = fixture["models"][name]["holdout_predicted_total"]
            .as_f64()
            .unwrap();
        let got = m["predicted_holdout_purchases"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-5 * want,
            "{name}: {got} vs lifetimes {want}"
        );
        let last = m["predicted_cumulative"][38].as_f64().unwrap();
        assert!(
            (last - got).abs() < 1e-9 * got,
            "{name}: tracking ends at {last}"
        );
    }
}

#[test]
fn discrete_and_subscription_models_fit_from_their_own_files() {
    // BG/BB on the donations summary: Fader, Hardie & Shang's published estimates.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("bgbb.json");
    let out = ok(&[
        "fit",
        data("donations.csv").to_str().unwrap(),
        "--model",
        "bgbb",
        "-o",
        saved.to_str().unwrap(),
    ]);
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    for (name, want) in [
        ("alpha", 1.204),
        ("beta", 0.750),
        ("gamma", 0.657),
        ("delta", 2.783),
    ] {
        let got = model["parameters"][name].as_f64().unwrap();
        assert!((got - want).abs() < 6e-4, "{name}: {got}");
    }
    assert_eq!(model["data"]["customers"], 11_104);
    assert!(String::from_utf8_lossy(&out.stdout).contains("BG/BB model"));

    // sBG on a survival curve: the fitted projection reproduces a curve made from known α, β.
    let (alpha, beta) = (0.704f64, 1.182f64);
    let mut survival = vec![1.0f64];
    for t in 1..8 {
        let t = t as f64;
        survival.push(survival.last().unwrap() * (beta + t - 1.0) / (alpha + beta + t - 1.0));
    }
    let curve = dir.path().join("curve.csv");
    let text: String = std::iter::once("alive".to_string())
        .chain(survival.iter().map(|s| format!("{:.0}", 100_000.0 * s)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&curve, text + "\n").unwrap();
    let saved = dir.path().join("sbg.json");
    ok(&[
        "fit",
        curve.to_str().unwrap(),
        "--model",
        "sbg",
        "-o",
        saved.to_str().unwrap(),
    ]);
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let got = (
        model["parameters"]["alpha"].as_f64().unwrap(),
        model["parameters"]["beta"].as_f64().unwrap(),
    );
    assert!(
        (got.0 - alpha).abs() < 0.01 && (got.1 - beta).abs() < 0.02,
        "{got:?}"
    );
    let out = ok(&["retention", curve.to_str().unwrap(), "--price", "10"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("retention") && text.contains("residual value"),
        "{text}"
    );
}

#[test]
fn score_with_pareto_and_auto() {
    let cdnow = data("CDNOW_sample.txt");
    let dir = tempfile::tempdir().unwrap();
    for model in ["pareto", "auto"] {
        let out_file = dir.path().join(format!("{model}.csv"));
        let mut args = vec!["score", cdnow.to_str().unwrap()];
        args.extend(CDNOW_COLUMNS);
        args.extend(["--model", model, "-o", out_file.to_str().unwrap()]);
        let out = ok(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if model == "auto" {
            assert!(
                stderr.contains("auto chose") && stderr.contains("BIC"),
                "{stderr}"
            );
        } else {
            assert!(stderr.contains("Pareto/NBD model"), "{stderr}");
        }
        let rows = read_csv(&out_file);
        assert_eq!(rows.len(), 2357);
        for r in &rows {
            let p: f64 = r["p_alive"].parse().unwrap();
            let clv: f64 = r["predicted_clv"].parse().unwrap();
            assert!(
                (0.0..=1.0).contains(&p) && clv.is_finite() && clv >= 0.0,
                "{r:?}"
            );
        }
    }
}

#[test]
fn score_intervals_bracket_every_prediction_and_the_holdout() {
    let cdnow = data("CDNOW_sample.txt");
    let dir = tempfile::tempdir().unwrap();
    let scored = |intervals: &str| {
        let out_file = dir.path().join(format!("{intervals}.csv"));
        let mut args = vec!["score", cdnow.to_str().unwrap()];
        args.extend(CDNOW_COLUMNS);
        args.extend([
            "--observation-end",
            "1997-09-30",
            "--horizon",
            "39w",
            "--intervals",
            intervals,
            "--draws",
            "60",
            "-o",
            out_file.to_str().unwrap(),
        ]);
        ok(&args);
        read_csv(&out_file)
    };
    let (delta, bootstrap, none) = (scored("delta"), scored("bootstrap"), scored("none"));
    let f = |r: &BTreeMap<String, String>, k: &str| r[k].parse::<f64>().unwrap();
    let bracketed = [
        "p_alive",
        "churn_probability",
        "expected_purchases",
        "expected_spend",
        "predicted_clv",
        "total_clv",
    ];
    for rows in [&delta, &bootstrap] {
        for r in rows {
            for name in bracketed {
                let (v, lo, hi) = (
                    f(r, name),
                    f(r, &format!("{name}_lower")),
                    f(r, &format!("{name}_upper")),
                );
                assert!(lo <= v && v <= hi, "{name}: {lo} {v} {hi} in {r:?}");
            }
            assert!(f(r, "p_alive_lower") >= 0.0 && f(r, "p_alive_upper") <= 1.0);
            let dates = [
                "expected_next_order_date_lower",
                "expected_next_order_date",
                "expected_next_order_date_upper",
            ]
            .map(|k| r[k].clone());
            assert!(dates[0] <= dates[1] && dates[1] <= dates[2], "{dates:?}");
        }
    }
    // Without intervals: the same predictions, no interval columns.
    for (a, b) in delta.iter().zip(&none) {
        assert_eq!(a["predicted_clv"], b["predicted_clv"]);
        assert!(!b.contains_key("p_alive_lower") && !b.contains_key("purchases_upper"));
    }
    // The delta method and a parametric bootstrap of 60 refits agree on the intervals' widths.
    for name in ["p_alive", "expected_purchases", "predicted_clv"] {
        let width = |r: &BTreeMap<String, String>| {
            f(r, &format!("{name}_upper")) - f(r, &format!("{name}_lower"))
        };
        let mut ratios: Vec<f64> = delta
            .iter()
            .zip(&bootstrap)
            .filter(|(d, _)| width(d) > 1e-9)
            .map(|(d, b)| width(b) / width(d))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!(
            (0.7..1.4).contains(&median),
            "{name}: median ratio {median}"
        );
    }
    // The 90% predictive interval of each customer's purchases in the 39-week holdout covers
    // what they actually did about 90% of the time.
    let summary_file = dir.path().join("holdout.csv");
    let mut args = vec!["summary", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend([
        "--calibration-end",
        "1997-09-30",
        "-o",
        summary_file.to_str().unwrap(),
    ]);
    ok(&args);
    let actual: BTreeMap<String, f64> = read_csv(&summary_file)
        .into_iter()
        .map(|r| {
            (
                r["customer_id"].clone(),
                r["frequency_holdout"].parse().unwrap(),
            )
        })
        .collect();
    let inside = delta
        .iter()
        .filter(|r| {
            let x = actual[&r["customer_id"]];
            f(r, "purchases_lower") <= x && x <= f(r, "purchases_upper")
        })
        .count() as f64
        / delta.len() as f64;
    assert!((0.86..0.97).contains(&inside), "coverage {inside}");
}

/// A fitted model's estimates are within 3 standard errors of `truth`.
fn assert_recovers(model_file: &Path, names: &[&str], truth: &[f64]) {
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model_file).unwrap()).unwrap();
    for (i, (name, want)) in names.iter().zip(truth).enumerate() {
        let got = model["parameters"][name].as_f64().unwrap();
        let se = model["fit"]["standard_errors"][i].as_f64().unwrap();
        assert!(
            (got - want).abs() < 3.0 * se,
            "{name}: {got} ± {se} vs truth {want}"
        );
    }
}

#[test]
fn simulated_pareto_and_bgbb_logs_give_back_their_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    struct Case {
        model: &'static str,
        truth: [f64; 4],
        simulate_options: &'static [&'static str],
        fit_options: &'static [&'static str],
        names: [&'static str; 4],
    }
    let cases = [
        Case {
            model: "pareto",
            truth: [0.55, 10.6, 0.61, 11.7],
            simulate_options: &[],
            fit_options: &["--time-unit", "week", "--observation-end", "2024-12-29"],
            names: ["r", "alpha", "s", "beta"],
        },
        Case {
            model: "bgbb",
            truth: [1.2, 0.75, 0.66, 2.8],
            // Seven yearly opportunities after the first purchase on 2024-01-01.
            simulate_options: &["--time-unit", "year", "--observation", "2560d"],
            fit_options: &["--period", "year"],
            names: ["alpha", "beta", "gamma", "delta"],
        },
    ];
    for Case {
        model,
        truth,
        simulate_options,
        fit_options,
        names,
    } in cases
    {
        let log = path(&format!("{model}.csv"));
        let params = truth.map(|v| v.to_string()).join(",");
        let mut args = vec![
            "simulate",
            "--customers",
            "30000",
            "--purchase-model",
            model,
            "--params",
            &params,
            "-o",
            &log,
        ];
        args.extend(simulate_options);
        ok(&args);
        let saved = path(&format!("{model}.json"));
        let mut args = vec!["fit", &log, "--model", model, "-o", &saved];
        args.extend(fit_options);
        ok(&args);
        assert_recovers(Path::new(&saved), &names, &truth);
    }
}

#[test]
fn sbg_fits_one_row_per_subscriber() {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution};
    // Monthly subscribers who started on the 1st of a month over two years, each cancelling
    // after a geometric number of months with churn probability θ ~ Beta(0.7, 1.2); observed to
    // 2025-12-31.
    let (alpha, beta) = (0.7, 1.2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let churn = Beta::new(alpha, beta).unwrap();
    let month = |m: i32| format!("{:04}-{:02}-01", 2024 + m / 12, m % 12 + 1);
    let mut text = String::from("subscriber,start,end\n");
    for i in 0..20_000 {
        let first = rng.random_range(0..24);
        let theta: f64 = churn.sample(&mut rng);
        let mut paid = 1;
        while rng.random::<f64>() >= theta {
            paid += 1;
        }
        let end = if first + paid < 24 {
            month(first + paid)
        } else {
            String::new()
        };
        text.push_str(&format!("s{i},{},{end}\n", month(first)));
    }
    text.push_str("bad,2024-13-01,\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subscribers.csv");
    std::fs::write(&file, text).unwrap();
    let saved = dir.path().join("sbg.json");
    let out = ok(&[
        "fit",
        file.to_str().unwrap(),
        "--model",
        "sbg",
        "--observation-end",
        "2025-12-31",
        "-o",
        saved.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 rows of")
            && stderr.contains("1 bad_date")
            && stderr.contains(":20002: column `start` value `2024-13-01`"),
        "{stderr}"
    );
    assert_recovers(&saved, &["alpha", "beta"], &[alpha, beta]);
    // `clv retention` on the same file shows the Kaplan–Meier curve beside the projection.
    let stdout = stdout_of(&[
        "retention",
        file.to_str().unwrap(),
        "--observation-end",
        "2025-12-31",
        "--price",
        "20",
    ]);
    assert!(
        stdout.contains("month") && stdout.contains("residual value"),
        "{stdout}"
    );
}

/// A customer of the RFM example: id, recency days, purchase days, net revenue.
type RfmCustomer = (&'static str, i64, i64, f64);
/// The scores and segment the README works out by hand: R, F, M, segment.
type RfmExpected = (i64, i64, i64, &'static str);

/// The README's hand-worked RFM example: ten customers whose recency, frequency and monetary
/// values put two in each quintile, observed to 2024-12-31.
const RFM_EXAMPLE: [(RfmCustomer, RfmExpected); 10] = [
    (("A", 1, 10, 900.0), (5, 5, 5, "champions")),
    (("B", 3, 1, 20.0), (5, 1, 1, "new")),
    (("C", 10, 5, 150.0), (4, 3, 3, "loyal")),
    (("D", 14, 3, 60.0), (4, 2, 2, "potential_loyalists")),
    (("E", 30, 7, 400.0), (3, 4, 4, "loyal")),
    (("F", 45, 2, 80.0), (3, 1, 2, "need_attention")),
    (("G", 90, 12, 1200.0), (2, 5, 5, "at_risk")),
    (("H", 120, 4, 35.0), (2, 2, 1, "hibernating")),
    (("I", 200, 8, 500.0), (1, 4, 4, "cant_lose_them")),
    (("J", 300, 6, 200.0), (1, 3, 3, "at_risk")),
];

#[test]
fn rfm_segments_match_the_hand_worked_readme_example() {
    use chrono::{Duration, NaiveDate};
    let end = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    let mut text = String::from("customer_id,date,amount\n");
    for ((id, recency, days, revenue), _) in RFM_EXAMPLE {
        // Purchase days three days apart, the last `recency` days before the end.
        for k in 0..days {
            let day = end - Duration::days(recency + 3 * k);
            text.push_str(&format!("{id},{day},{:.4}\n", revenue / days as f64));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, text).unwrap();
    let out_file = dir.path().join("segments.csv");
    let out = ok(&[
        "segments",
        orders.to_str().unwrap(),
        "--observation-end",
        "2024-12-31",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    let rows = read_csv(&out_file);
    assert_eq!(rows.len(), 10);
    for (((id, recency, days, revenue), (r, f, m, segment)), row) in RFM_EXAMPLE.iter().zip(&rows) {
        assert_eq!(&row["customer_id"], id);
        let got = |k: &str| row[k].parse::<f64>().unwrap();
        assert_eq!(
            (got("recency_days"), got("frequency")),
            (*recency as f64, *days as f64)
        );
        assert!((got("monetary") - revenue).abs() < 1e-2, "{row:?}");
        assert_eq!(
            (
                &row["r_score"],
                &row["f_score"],
                &row["m_score"],
                &row["segment"]
            ),
            (
                &r.to_string(),
                &f.to_string(),
                &m.to_string(),
                &segment.to_string()
            ),
            "{id}"
        );
    }
    // The report keeps every section, saying what is missing (no SKUs, no holdout, and perhaps no
    // model on ten customers) instead of leaving it out.
    let report = dir.path().join("report.html");
    ok(&[
        "report",
        orders.to_str().unwrap(),
        "--observation-end",
        "2024-12-31",
        "-o",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    for id in [
        "headline",
        "cohorts",
        "segments",
        "model",
        "holdout",
        "distributions",
        "customers",
        "replenishment",
        "cross-sell",
    ] {
        assert!(html.contains(&format!(r#"<section id="{id}">"#)), "{id}");
    }
    assert!(html.matches(r#"class="missing""#).count() >= 3);
    // Ten customers are too few for the models: RFM still works and says why tiers are missing.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("champions") && stdout.contains("Value tiers"),
        "{stdout}"
    );
}

#[test]
fn segments_tiers_and_customer_profile_agree_with_score_on_cdnow() {
    let cdnow = data("CDNOW_sample.txt");
    let dir = tempfile::tempdir().unwrap();
    let with = |cmd: &'static str, extra: &[&str]| {
        let mut args = vec![cmd, cdnow.to_str().unwrap()];
        args.extend(CDNOW_COLUMNS);
        args.extend(extra);
        ok(&args)
    };
    let segments_file = dir.path().join("segments.csv");
    let scores_file = dir.path().join("scores.csv");
    with("segments", &["-o", segments_file.to_str().unwrap()]);
    with("score", &["-o", scores_file.to_str().unwrap()]);
    let segments = read_csv(&segments_file);
    let scores = read_csv(&scores_file);
    assert_eq!(segments.len(), 2357);
    // Tiers: the top 1% by predicted CLV (from `clv score`) is tier "top 1%", etc.
    let mut clv: Vec<f64> = scores
        .iter()
        .map(|r| r["predicted_clv"].parse().unwrap())
        .collect();
    clv.sort_by(|a, b| b.total_cmp(a));
    for (s, c) in segments.iter().zip(&scores) {
        assert_eq!(s["customer_id"], c["customer_id"]);
        assert_eq!(s["predicted_clv"], c["predicted_clv"]);
        let value: f64 = c["predicted_clv"].parse().unwrap();
        let above = clv.iter().filter(|&&v| v > value).count() as f64 / 2357.0;
        let want = match above {
            a if a < 0.01 => "top 1%",
            a if a < 0.05 => "top 5%",
            a if a < 0.20 => "top 20%",
            _ => "rest",
        };
        assert_eq!(s["tier"], want, "{s:?}");
    }
    // Each segment's mean P(alive) in the table is the mean over its customers in the file, and
    // the default model lets one-time buyers be lost: "lost" averages far below 1 and below
    // champions (BG/NBD gave every one-time buyer P(alive) = 1).
    let table = String::from_utf8_lossy(&with("segments", &[]).stdout).to_string();
    let mean_p_alive = |segment: &str| {
        let p: Vec<f64> = segments
            .iter()
            .filter(|r| r["segment"] == segment)
            .map(|r| r["p_alive"].parse().unwrap())
            .collect();
        p.iter().sum::<f64>() / p.len() as f64
    };
    for segment in ["champions", "lost", "hibernating", "at_risk"] {
        let line = table.lines().find(|l| l.starts_with(segment)).unwrap();
        let shown: f64 = line.split_whitespace().nth(6).unwrap().parse().unwrap();
        assert!((shown - mean_p_alive(segment)).abs() < 1e-4, "{line}");
    }
    assert!(mean_p_alive("lost") < 0.5, "{}", mean_p_alive("lost"));
    assert!(mean_p_alive("lost") < mean_p_alive("champions"));
    // The profile prints the same P(alive) and CLV as `clv score`.
    let profile = String::from_utf8_lossy(&with("customer", &["0001"]).stdout).to_string();
    let row = scores.iter().find(|r| r["customer_id"] == "0001").unwrap();
    for name in ["p_alive", "predicted_clv"] {
        let v: f64 = row[name].parse().unwrap();
        assert!(
            profile.contains(&format!("{v:.4}")),
            "{name} {v} in {profile}"
        );
    }
    let segment = &segments
        .iter()
        .find(|r| r["customer_id"] == "0001")
        .unwrap()["segment"];
    assert!(
        profile.contains(&format!("segment      {segment}")),
        "{profile}"
    );
    let mut args = vec!["customer", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.push("nobody");
    let missing = clv_fails(&args);
    assert!(missing.contains("no customer `nobody`"), "{missing}");
}

/// Stderr of a run expected to fail.
fn clv_fails(args: &[&str]) -> String {
    let out = clv(args);
    assert!(!out.status.success(), "clv {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn planted_cycles_and_pairs_are_recovered_from_a_simulated_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "--customers",
        "20000",
        "--skus",
        "100",
        "--lines-per-order",
        "3",
        "--catalogue",
        &path("catalogue.csv"),
        "-o",
        &path("orders.csv"),
    ]);
    let catalogue = read_csv(Path::new(&path("catalogue.csv")));
    ok(&[
        "replenish",
        &path("orders.csv"),
        "--min-repeats",
        "100",
        "--cycles",
        &path("cycles.csv"),
        "-o",
        &path("reminders.csv"),
    ]);
    let cycles: BTreeMap<String, f64> = read_csv(Path::new(&path("cycles.csv")))
        .into_iter()
        .map(|r| (r["sku"].clone(), r["median_gap_days"].parse().unwrap()))
        .collect();
    let mut checked = 0;
    for product in &catalogue {
        let Ok(planted) = product["cycle_days"].parse::<f64>() else {
            continue;
        };
        if let Some(&median) = cycles.get(&product["sku"]) {
            assert!(
                (median - planted).abs() <= 0.1 * planted,
                "{}: median gap {median} vs planted {planted}",
                product["sku"]
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "only {checked} planted cycles had enough evidence"
    );
    // Reminders: due one typical gap after the last purchase, sent 3 days before.
    for r in read_csv(Path::new(&path("reminders.csv"))) {
        let day = |k: &str| chrono::NaiveDate::parse_from_str(&r[k], "%Y-%m-%d").unwrap();
        let gap: f64 = r["typical_gap_days"].parse().unwrap();
        assert_eq!(
            (day("due") - day("last_purchase")).num_days(),
            gap.round() as i64
        );
        assert_eq!((day("due") - day("remind_on")).num_days(), 3);
    }

    // Planted companions: the strongest single-product rules by lift are planted pairs.
    ok(&["cross-sell", &path("orders.csv"), "-o", &path("rules.csv")]);
    let planted: BTreeSet<(String, String)> = catalogue
        .iter()
        .filter(|p| !p["companion"].is_empty())
        .flat_map(|p| {
            [
                (p["sku"].clone(), p["companion"].clone()),
                (p["companion"].clone(), p["sku"].clone()),
            ]
        })
        .collect();
    let pair_rules: Vec<(String, String)> = read_csv(Path::new(&path("rules.csv")))
        .into_iter()
        .filter(|r| !r["antecedent"].contains('+') && !r["consequent"].contains('+'))
        .map(|r| (r["antecedent"].clone(), r["consequent"].clone()))
        .collect();
    assert!(pair_rules.len() >= 10);
    for rule in &pair_rules[..10] {
        assert!(
            planted.contains(rule),
            "{rule:?} ranks high but was not planted"
        );
    }
}

#[test]
fn cross_sell_rules_equal_mlxtend_on_the_basket_sample() {
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("basket_rules_mlxtend.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("rules.csv");
    ok(&[
        "cross-sell",
        data("baskets_sample.csv").to_str().unwrap(),
        "--min-support",
        "0.01",
        "--min-confidence",
        "0",
        "--min-lift",
        "0",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    let key = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items.join(" + ")
    };
    let ours: BTreeMap<(String, String), BTreeMap<String, String>> = read_csv(&out_file)
        .into_iter()
        .map(|r| {
            let split = |s: &str| s.split(" + ").map(str::to_string).collect::<Vec<_>>();
            (
                (key(split(&r["antecedent"])), key(split(&r["consequent"]))),
                r,
            )
        })
        .collect();
    let rules = want["rules"].as_array().unwrap();
    assert_eq!(ours.len(), rules.len(), "rule count");
    for rule in rules {
        let items = |k: &str| {
            rule[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let row = &ours[&(key(items("antecedent")), key(items("consequent")))];
        for name in [
            "antecedent_support",
            "consequent_support",
            "support",
            "confidence",
            "lift",
        ] {
            let (got, expected): (f64, f64) =
                (row[name].parse().unwrap(), rule[name].as_f64().unwrap());
            // CSV carries 12 significant digits (README, "Precision").
            assert!(
                (got - expected).abs() <= 5e-12 * expected.abs().max(1.0),
                "{name} of {rule}: {got}"
            );
        }
    }
}

#[test]
fn product_edge_cases_are_counted_not_dropped() {
    // c1 buys once (one item); c2's second order has a line without a SKU and a return; c3 buys
    // skuB once per week (a cycle of 7 days, but only 3 gaps: below --min-repeats 5).
    let text = "customer_id,order_id,date,sku,quantity,amount
c1,o1,2024-01-01,skuA,1,10
c2,o2,2024-01-02,skuA,1,10
c2,o2,2024-01-02,skuB,1,5
c2,o3,2024-01-09,,1,7
c2,o3,2024-01-09,skuB,-1,-5
c3,o4,2024-01-01,skuB,1,5
c3,o5,2024-01-08,skuB,1,5
c3,o6,2024-01-15,skuB,1,5
c3,o7,2024-01-22,skuB,1,5
";
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, text).unwrap();
    let out = ok(&["cross-sell", orders.to_str().unwrap(), "--min-support", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("7 kept from 3 customers and 2 SKUs")
            && stderr.contains("1 without a SKU, 1 returns"),
        "{stderr}"
    );
    // Baskets: o1, o2, o4–o7 (o3 had no SKU line left): six, five of a single product.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("6 baskets (5 of a single product"),
        "{stdout}"
    );
    let stdout = stdout_of(&["replenish", orders.to_str().unwrap()]);
    assert!(
        stdout.contains("0 of 2 SKUs have a repeat-purchase cycle"),
        "{stdout}"
    );
    let stdout = stdout_of(&[
        "replenish",
        orders.to_str().unwrap(),
        "--min-repeats",
        "3",
        "--as-of",
        "2024-01-25",
    ]);
    assert!(
        stdout.contains("1 of 2 SKUs") && stdout.contains("c3"),
        "{stdout}"
    );
}

#[test]
fn report_numbers_equal_metrics_score_and_validate_on_cdnow() {
    let cdnow = data("CDNOW_sample.txt");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |cmd: &'static str, extra: &[&str]| {
        let mut args = vec![cmd, cdnow.to_str().unwrap()];
        args.extend(CDNOW_COLUMNS);
        args.extend(["--observation-end", "1998-06-30"]);
        args.extend(extra);
        ok(&args)
    };
    run(
        "report",
        &[
            "--calibration-end",
            "1997-09-30",
            "-o",
            &path("report.html"),
        ],
    );
    let html = std::fs::read_to_string(path("report.html")).unwrap();
    let json_start = html.find(r#"id="clv-report-data">"#).unwrap() + 21;
    let json_end = json_start + html[json_start..].find("</script>").unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&html[json_start..json_end].replace("<\\/", "</")).unwrap();

    // Metrics: exactly what `clv metrics --format json` prints, and shown in the page.
    let metrics: serde_json::Value =
        serde_json::from_slice(&run("metrics", &["--format", "json"]).stdout).unwrap();
    assert_eq!(report["metrics"], metrics);
    assert!(html.contains("244,091.94") && html.contains("2,357"));

    // Scores: the top customers' predicted CLV and P(alive) equal `clv score`'s.
    run("score", &["-o", &path("scores.csv")]);
    let scores: BTreeMap<String, BTreeMap<String, String>> =
        read_csv(Path::new(&path("scores.csv")))
            .into_iter()
            .map(|r| (r["customer_id"].clone(), r))
            .collect();
    let top = report["top_customers"].as_array().unwrap();
    assert_eq!(top.len(), 10);
    let mut best: Vec<f64> = scores
        .values()
        .map(|r| r["predicted_clv"].parse().unwrap())
        .collect();
    best.sort_by(|a, b| b.total_cmp(a));
    for (k, c) in top.iter().enumerate() {
        let row = &scores[c["customer_id"].as_str().unwrap()];
        // The scores' CSV carries 12 significant digits, the page's data every digit.
        let close = |a: f64, b: f64| (a - b).abs() <= 5e-12 * b.max(1.0);
        for name in ["predicted_clv", "p_alive"] {
            let want: f64 = row[name].parse().unwrap();
            assert!(close(c[name].as_f64().unwrap(), want), "{name}");
        }
        assert!(close(c["predicted_clv"].as_f64().unwrap(), best[k]));
    }

    // At risk: the page's table lists the terminal's customers with their CLV if active and
    // value at risk (not the near-zero predicted CLV of a customer probably lost).
    let terminal = String::from_utf8_lossy(&run("segments", &[]).stdout).to_string();
    let at_risk: Vec<Vec<&str>> = terminal
        .lines()
        .skip_while(|l| !l.starts_with("customer_id    segment"))
        .skip(1)
        .take_while(|l| !l.starts_with('('))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(at_risk.len(), 10);
    let page_table = &html[html.find("value at risk</th>").unwrap()..];
    for row in &at_risk {
        let money = |v: &str| {
            let cents = format!("{:.2}", v.parse::<f64>().unwrap());
            let (whole, frac) = cents.split_once('.').unwrap();
            let mut grouped = String::new();
            for (k, c) in whole.chars().enumerate() {
                if k > 0 && (whole.len() - k) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            format!("{grouped}.{frac}")
        };
        let cells = format!(
            "<td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td>",
            row[0],
            row[1],
            row[2].parse::<f64>().unwrap(),
            money(row[3]),
            money(row[4])
        );
        assert!(page_table.contains(&cells), "{cells}");
    }

    // Validation: the same holdout totals as `clv validate --format json`.
    let validation: serde_json::Value = serde_json::from_slice(
        &run(
            "validate",
            &["--calibration-end", "1997-09-30", "--format", "json"],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(report["validation"]["actual_holdout_purchases"], 1882);
    for (got, want) in report["validation"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .zip(validation["models"].as_array().unwrap())
    {
        assert_eq!(got["model"], want["model"]);
        assert_eq!(
            got["predicted_holdout_purchases"],
            want["predicted_holdout_purchases"]
        );
        // As the table shows it: one decimal, thousands separated (these are 1,000–9,999).
        let v = format!(
            "{:.1}",
            want["predicted_holdout_purchases"].as_f64().unwrap()
        );
        let shown = format!("<td>{},{}</td>", &v[..1], &v[1..]);
        assert!(html.contains(&shown), "{shown}");
    }
    // CDNOW has no SKUs: the product sections say so instead of disappearing.
    assert_eq!(html.matches("no SKU column").count(), 2);
    assert_eq!(html.matches(r#"<figure class="chart""#).count(), 8);
}
