//! `clv demo`: the commands a new user would run, on the bundled CDNOW sample and a small
//! simulated shop with products, each step a real command line through the same code.

use crate::cli::{Cli, Command};
use anyhow::{Context, Result};
use clap::Parser;
use clv_data::Period;

/// The CDNOW sample ships inside the binary so `clv demo` works from anywhere.
pub const CDNOW: &str = include_str!("../tests/data/CDNOW_sample.txt");

/// How the CDNOW sample is read: whitespace-separated master id, customer id, yyyymmdd, CDs,
/// dollars, followed to June 1998.
const CDNOW_COLUMNS: &str = "--customer-col 2 --date-col 3 --amount-col 5";
const CDNOW_READ: &str = "@CDNOW @COLUMNS --observation-end 1998-06-30";

/// The demo: a heading, then a command line (@CDNOW, @SHOP, @CATALOGUE and @REPORT stand for the
/// demo's files; TOP for the most valuable customers, which `clv score` computes).
const STEPS: [(&str, &str); 10] = [
    ("clv demo: the CDNOW sample, 2,357 customers who first bought CDs in Q1 1997, followed to June 1998.\nData: @CDNOW (whitespace-separated: master id, customer id, yyyymmdd, CDs, dollars)\n\n== Customer summary: 39-week calibration to 1997-09-30, 39-week holdout to 1998-06-30 ==",
     "summary @READ --time-unit week --calibration-end 1997-09-30 --format table"),
    ("(frequency = repeat purchase days; recency and T in weeks; monetary_value = mean repeat purchase)\n\n== Shop metrics over the whole period ==",
     "metrics @READ --window 90d --cac 20 --format table"),
    ("\n== Which model forecasts best: fitted on 39 weeks, checked on the next 39 ==",
     "validate @READ --calibration-end 1997-09-30"),
    ("\n== What each customer is worth: scored as of 1998-06-30, next 52 weeks, 10% a year ==",
     "TOP score @READ --horizon 52w"),
    ("\n== Who to look after: RFM segments, value tiers, valuable customers at risk ==",
     "segments @READ --horizon 52w --top 5 --format table"),
    ("\n== When to remind and what to offer: a simulated shop with 200 products ==",
     "simulate -o @SHOP --customers 5000 --seed 42 --skus 200 --lines-per-order 3 --catalogue @CATALOGUE"),
    ("", "replenish @SHOP --as-of 2024-12-01 --window 7d --min-repeats 20 --format table"),
    (" ", "cross-sell @SHOP --min-support 0.002 --top 5 --format table"),
    ("(the planted cycles and companion products are in @CATALOGUE: compare)\n\n== The report a shop owner reads ==",
     "report @READ --calibration-end 1997-09-30 --horizon 52w -o @REPORT"),
    ("(and the simulated shop's, with its products: reminders due and products bought together)",
     "report @SHOP --horizon 52w -o @PRODUCT_REPORT"),
];

/// What to try next, with the same placeholders.
const NEXT: [&str; 12] = [
    "summary @CDNOW @COLUMNS --time-unit week --format csv -o summary.csv",
    "metrics @CDNOW @COLUMNS --window 12w --format json",
    "fit @CDNOW @COLUMNS --calibration-end 1997-09-30 --model gg -o spend.json",
    "score @CDNOW @COLUMNS --horizon 365d --discount-rate 10% -o scores.csv",
    "score @CDNOW @COLUMNS --model pareto --intervals bootstrap --draws 200 -o scores.csv",
    "report @CDNOW @COLUMNS --calibration-end 1997-09-30 -o report.html",
    "segments @CDNOW @COLUMNS -o segments.csv",
    "customer @CDNOW @COLUMNS 1981",
    "replenish @SHOP --as-of 2024-12-01 --window 14d -o reminders.csv",
    "cross-sell @SHOP --recommendations recommendations.csv -o rules.csv",
    "simulate --customers 100000 -o orders.csv && clv summary orders.csv --time-unit week",
    "summary YOUR_EXPORT.csv --rejects rejects.csv   # columns are detected from the header",
];

/// The most valuable customers next year, with a few of `clv score`'s columns.
fn top_customers(cli: &Cli) -> Result<()> {
    let Command::Score(args) = &cli.command else { unreachable!("TOP runs a score command") };
    let delta = clv_score::Intervals::Delta { level: 0.9 };
    let config = crate::modeling::valuation_config(&args.models, delta, crate::threads(cli))?;
    let histories = crate::input::load(&args.input, Period::Day, None, config.threads, None)?;
    let valuation = clv_score::value(&histories, &config)?;
    eprintln!("{}", valuation.describe());
    let shown = "customer_id frequency p_alive expected_purchases predicted_clv predicted_clv_lower predicted_clv_upper historic_clv expected_next_order_date";
    let table = valuation.table(0..valuation.len()).select(&valuation.most_valuable(8));
    println!("Most valuable next year (predicted CLV, discounted):");
    print!("{}", table.project(&shown.split(' ').collect::<Vec<_>>()).render_text(8));
    Ok(())
}

pub fn demo() -> Result<()> {
    let dir = std::env::temp_dir().join("clv-demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cdnow = dir.join("CDNOW_sample.txt");
    std::fs::write(&cdnow, CDNOW).with_context(|| format!("writing {}", cdnow.display()))?;
    let file = |name: &str| dir.join(name).display().to_string();
    let places = [
        ("@READ", CDNOW_READ.to_string()),
        ("@COLUMNS", CDNOW_COLUMNS.to_string()),
        ("@CDNOW", cdnow.display().to_string()),
        ("@SHOP", file("simulated_shop.csv")),
        ("@CATALOGUE", file("simulated_catalogue.csv")),
        ("@REPORT", file("cdnow-report.html")),
        ("@PRODUCT_REPORT", file("shop-report.html")),
    ];
    // Placeholders are whole words (punctuation may follow); @READ expands to @CDNOW and its
    // columns first.
    let fill = |text: &str| -> String {
        places.iter().fold(text.to_string(), |t, (k, v)| {
            t.split(' ')
                .map(|w| match w.strip_prefix(k) {
                    Some(rest) if !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') => {
                        format!("{v}{rest}")
                    }
                    _ => w.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    for (title, line) in STEPS {
        if !title.is_empty() {
            println!("{}", fill(title).trim_end());
        }
        let line = fill(line);
        let (top, line) = match line.strip_prefix("TOP ") {
            Some(rest) => (true, rest.to_string()),
            None => (false, line),
        };
        let cli = Cli::try_parse_from(std::iter::once("clv").chain(line.split(' ')))?;
        if top {
            top_customers(&cli)?;
        } else {
            crate::run(&cli)?;
        }
    }
    println!(
        "The CDNOW report (metrics, cohorts, segments, models, holdout, value, customers): {}",
        file("cdnow-report.html")
    );
    println!(
        "The simulated shop's report (the same, with reminders and products bought together): {}",
        file("shop-report.html")
    );
    println!("\nTry next (`cargo install --path .` puts `clv` on your PATH; or use `cargo run --release --`):");
    for line in NEXT {
        println!("  clv {}", fill(line));
    }
    Ok(())
}
