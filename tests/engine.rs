//! The engine as a library: valuation on order lines built in memory (no file, one thread) gives
//! exactly what `clv score` writes, and the model names users bring are parsed at the edge into
//! the right model or refused with what to do.

use clv_data::{OrderLine, Period, SerialFeed};
use clv_score::{ValuationConfig, ValuationError};
use clv_summary::{Histories, Ledger, LedgerOptions};
mod common;
use common::{clv, data, CDNOW_COLUMNS};
use std::path::Path;

/// CDNOW's order lines as a shop's database would hand them over: parsed here by hand from the
/// whitespace-separated sample (customer id, yyyymmdd, dollars), not by clv's readers.
fn cdnow_histories(threads: usize) -> Histories {
    let text = std::fs::read_to_string(data("CDNOW_sample.txt")).unwrap();
    let mut ledger = Ledger::new(LedgerOptions {
        period: Period::Day,
        observation_end: None,
        calibration_end: None,
        threads,
    });
    let mut feed = SerialFeed::new(&mut ledger);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let date = chrono::NaiveDate::parse_from_str(f[2], "%Y%m%d").unwrap();
        feed.push(&OrderLine {
            description: None,
            customer: f[1].as_bytes(),
            time: clv_data::time::date_to_local(date),
            value: f[4].parse().unwrap(),
            order: None,
            sku: None,
            quantity: 1.0,
        });
    }
    drop(feed);
    Histories::usable(ledger.finish()).unwrap()
}

#[test]
fn valuation_of_lines_in_memory_on_one_thread_equals_clv_score() {
    let dir = tempfile::tempdir().unwrap();
    let cli_file = dir.path().join("scores.csv");
    let cdnow = data("CDNOW_sample.txt");
    let mut args = vec!["score", cdnow.to_str().unwrap()];
    args.extend(CDNOW_COLUMNS);
    args.extend(["-o", cli_file.to_str().unwrap()]);
    assert!(clv(&args).status.success());

    let histories = cdnow_histories(1);
    let config = ValuationConfig {
        threads: 1,
        ..Default::default()
    };
    let valuation = clv_score::value(&histories, &config).unwrap();
    let mut csv = Vec::new();
    valuation
        .table(0..valuation.len())
        .write_csv(&mut csv, 1)
        .unwrap();
    let cli = std::fs::read(&cli_file).unwrap();
    assert_eq!(valuation.len(), 2357);
    assert!(csv == cli, "the library's scores differ from `clv score`'s");
    // Scored once and written in uneven chunks (as the service ranks every CLV first): the same
    // file, the header once.
    let all = valuation.scores(0..valuation.len());
    let mut chunked = Vec::new();
    for start in (0..valuation.len()).step_by(1000) {
        let rows = start..(start + 1000).min(valuation.len());
        let part = valuation.table_of(rows.clone(), all.slice(rows));
        let mut text = Vec::new();
        part.write_csv(&mut text, 1).unwrap();
        let skip = if start == 0 {
            0
        } else {
            text.iter().position(|&b| b == b'\n').unwrap() + 1
        };
        chunked.extend_from_slice(&text[skip..]);
    }
    assert!(
        chunked == cli,
        "scores sliced into chunks differ from `clv score`'s"
    );
    // The most valuable customers: the CLI's rows sorted by predicted_clv, by hand.
    let text = String::from_utf8(cli).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let at = header.iter().position(|c| *c == "predicted_clv").unwrap();
    let mut rows: Vec<(f64, usize)> = (text.lines().skip(1).enumerate())
        .map(|(i, l)| (l.split(',').nth(at).unwrap().parse().unwrap(), i))
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let by_hand: Vec<usize> = rows.iter().take(10).map(|r| r.1).collect();
    assert_eq!(valuation.most_valuable(10), by_hand);
    // The fits are values too: the default MBG/NBD and Gamma-Gamma, fitted here.
    let fits = &valuation.fits;
    assert_eq!(fits.purchase.kind, clv_models::ModelKind::MBG_NBD);
    assert!(fits.purchase_fit.is_some() && fits.spend_fit.is_some() && fits.warnings().is_empty());
}

#[test]
fn a_valuation_that_cannot_be_made_is_a_typed_error() {
    let histories = cdnow_histories(1);
    let config = ValuationConfig {
        annual_discount_rate: 12.0,
        ..Default::default()
    };
    let err = clv_score::value(&histories, &config)
        .err()
        .expect("a refused rate");
    assert!(
        matches!(err, ValuationError::Config(_)) && err.is_data_problem(),
        "{err}"
    );
}

/// `clv ARGS` on CDNOW: (success, stdout, stderr).
fn on_cdnow(args: &[&str], out: Option<&Path>) -> (bool, String, String) {
    let cdnow = data("CDNOW_sample.txt");
    let mut all = vec![args[0], cdnow.to_str().unwrap()];
    all.extend(CDNOW_COLUMNS);
    all.extend(&args[1..]);
    if let Some(out) = out {
        all.extend(["-o", out.to_str().unwrap()]);
    }
    let o = clv(&all);
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn model_names_from_the_peers_and_models_that_cannot_score() {
    let dir = tempfile::tempdir().unwrap();
    let file = |n: &str| dir.path().join(format!("{}.csv", n.replace('/', "_")));
    // (option, the canonical name it must equal, or the refusal it must print).
    let cases: [(&str, Result<&str, &str>); 9] = [
        ("bg-nbd", Ok("bgnbd")),
        ("BG/NBD", Ok("bgnbd")),
        ("mbg-nbd", Ok("mbgnbd")),
        ("pnbd", Ok("pareto")),
        ("pareto-nbd", Ok("pareto")),
        ("gg", Err("gg is the spend model")),
        ("gamma-gamma", Err("gg is the spend model")),
        (
            "bgbb",
            Err("BG/BB predicts purchases at discrete opportunities"),
        ),
        ("sbg", Err("sBG predicts subscription renewals")),
    ];
    for (name, want) in cases {
        let args = ["score", "--intervals", "none", "--model", name];
        let (ok, _, stderr) = on_cdnow(&args, Some(&file(name)));
        match want {
            Ok(canonical) => {
                let reference = file(&format!("canonical-{canonical}"));
                if !reference.exists() {
                    let args = ["score", "--intervals", "none", "--model", canonical];
                    assert!(on_cdnow(&args, Some(&reference)).0);
                }
                assert!(ok, "{name}: {stderr}");
                let same = std::fs::read(file(name)).unwrap() == std::fs::read(&reference).unwrap();
                assert!(
                    same,
                    "--model {name} scored differently from --model {canonical}"
                );
            }
            Err(message) => {
                assert!(!ok && stderr.contains(message), "{name}: {stderr}");
                assert!(
                    stderr.contains("invalid value"),
                    "refused while parsing: {stderr}"
                );
            }
        }
    }
    // `clv fit` takes every model, under the peers' names too.
    let (ok, stdout, stderr) = on_cdnow(&["fit", "--model", "gamma-gamma"], None);
    assert!(ok && stdout.contains("Gamma-Gamma spend model"), "{stderr}");
}

#[test]
fn segments_name_the_model_auto_chose() {
    let args = ["segments", "--model", "auto"];
    let (ok, stdout, stderr) = on_cdnow(&args, None);
    assert!(ok, "{stderr}");
    let chosen = stderr
        .lines()
        .find_map(|l| l.strip_prefix("auto chose "))
        .and_then(|rest| rest.split(':').next())
        .expect("the choice is reported");
    let label = format!("10% a year, {chosen} model):");
    assert!(stdout.contains(&label), "tiers must say {chosen}: {stdout}");
}

#[test]
fn a_bgbb_summary_with_nan_is_rejected_by_row_and_fits_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let donations = std::fs::read_to_string(data("donations.csv")).unwrap();
    let with_nan = dir.path().join("with_nan.csv");
    std::fs::write(&with_nan, format!("{donations}NaN,1,6,5\n3,inf,6,2\n")).unwrap();
    let fit = |path: &Path| {
        let o = clv(&["fit", path.to_str().unwrap(), "--model", "bgbb"]);
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (o.status.success(), text(&o.stdout), text(&o.stderr))
    };
    let (ok, clean, _) = fit(&data("donations.csv"));
    assert!(ok);
    let (ok, dirty, stderr) = fit(&with_nan);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("skipped 2 rows") && stderr.contains("bad_number"),
        "{stderr}"
    );
    let line = donations.lines().count() + 1;
    assert!(
        stderr.contains(&format!(":{line}: column `frequency` value `NaN`")),
        "{stderr}"
    );
    assert_eq!(clean, dirty, "the rejected rows must not change the fit");
}
