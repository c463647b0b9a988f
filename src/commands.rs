//! The subcommands: each reads its input through `input`, calls the libraries, and prints.

use crate::cli::{InputArgs, MetricsArgs, OutputArgs, OutputFormat, SimulateArgs, SummaryArgs};
use crate::input::{is_parquet, load, thousands};
use crate::output::{resolve_format, write_chunked, write_table};
use anyhow::{Context, Result};
use clv_data::time::{parse_days, DAY};
use clv_data::{DateParser, Period, Table, TimeUnit, Values};
use clv_sim::{CatalogueOptions, GammaGamma, PurchaseProcess, SimulationOptions};
use clv_summary::{
    metrics_table, shop_metrics, summary_chunked, MetricsOptions, ShopMetrics, SummaryOptions,
};
use std::path::{Path, PathBuf};

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse::<T>().map_err(anyhow::Error::msg)
}

pub fn summary(args: &SummaryArgs) -> Result<()> {
    let time_unit: TimeUnit = parse(&args.time_unit)?;
    let period = match &args.period {
        Some(p) => parse(p)?,
        None if time_unit == TimeUnit::Hour => Period::Hour,
        None => Period::Day,
    };
    let histories = load(&args.input, period, args.calibration_end.as_deref())?;
    let options = SummaryOptions {
        time_unit,
        include_first: args.include_first,
    };
    let table = summary_chunked(&histories, options);
    let to_terminal =
        resolve_format(&args.output) == OutputFormat::Table && args.output.output.is_none();
    write_chunked(&table, &args.output)?;
    let h = &histories;
    let mut line = format!(
        "{} customers, {} repeat purchases ({} periods, times in {}s) up to {}",
        thousands(h.len() as u64),
        thousands(h.repeat_purchases()),
        period.name(),
        time_unit,
        clv_data::time::format_date(h.main_end()),
    );
    if h.calibration_end.is_some() {
        line.push_str(&format!(
            "; holdout to {}: {} purchases",
            clv_data::time::format_date(h.observation_end),
            thousands(h.holdout_purchases())
        ));
    }
    if to_terminal {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
    // The command is done: the operating system takes the memory back at exit faster than
    // freeing a million customers' arenas piece by piece (~40 ms at 1,000,000 customers).
    std::mem::forget(table);
    std::mem::forget(histories);
    Ok(())
}

pub fn metrics(args: &MetricsArgs) -> Result<()> {
    let window_days = parse_days(&args.window).map_err(anyhow::Error::msg)?;
    let histories = load(&args.input, Period::Day, None)?;
    let m = shop_metrics(
        &histories,
        MetricsOptions {
            window_days: window_days.round().max(1.0) as u32,
            cac: args.cac,
        },
    );
    write_metrics(&m, &args.output)
}

fn write_metrics(m: &ShopMetrics, out: &OutputArgs) -> Result<()> {
    match resolve_format(out) {
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(m)? + "\n";
            match &out.output {
                Some(p) => {
                    std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?
                }
                None => print!("{text}"),
            }
        }
        OutputFormat::Table if out.output.is_none() => print!("{}", render_metrics(m)),
        OutputFormat::Table => {
            let p = out.output.as_ref().expect("checked");
            std::fs::write(p, render_metrics(m))
                .with_context(|| format!("writing {}", p.display()))?
        }
        _ => {
            write_table(&metrics_table(m), out)?;
        }
    }
    Ok(())
}

fn money(x: f64) -> String {
    let whole = x.abs().trunc() as u64;
    let cents = ((x.abs() - x.abs().trunc()) * 100.0).round() as u64;
    let (whole, cents) = if cents == 100 {
        (whole + 1, 0)
    } else {
        (whole, cents)
    };
    format!(
        "{}{}.{cents:02}",
        if x < 0.0 { "-" } else { "" },
        thousands(whole)
    )
}

fn percent(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// The metrics as a terminal page.
pub fn render_metrics(m: &ShopMetrics) -> String {
    let mut s = String::new();
    let mut row = |label: &str, value: String, note: &str| {
        s.push_str(&format!("  {label:<30} {value:>14}  {note}\n"));
    };
    let opt = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or("n/a".to_string(), f);
    row(
        "customers",
        thousands(m.customers),
        "with at least one purchase",
    );
    row("orders", thousands(m.orders), "");
    row("revenue", money(m.revenue), "net of refunds");
    row(
        "average order value",
        opt(m.average_order_value, &money),
        "revenue / orders",
    );
    row(
        "purchase frequency",
        format!("{:.3}", m.purchase_frequency),
        "orders per customer",
    );
    row(
        "repeat-purchase rate",
        percent(Some(m.repeat_purchase_rate)),
        "customers buying on 2+ days",
    );
    row(
        "average days between orders",
        opt(m.average_days_between_orders, &|d| format!("{d:.1}")),
        "between a customer's purchase days",
    );
    let r = &m.retention;
    row(
        &format!("retention ({}-day windows)", r.window_days),
        percent(r.retention_rate),
        &format!(
            "{} of {} who bought {}…{} bought again {}…{}",
            thousands(r.retained),
            thousands(r.active_previous),
            r.previous_window[0],
            r.previous_window[1],
            r.current_window[0],
            r.current_window[1]
        ),
    );
    row("churn", percent(r.churn_rate), "1 − retention");
    let q = &m.historic_clv;
    row(
        "historic CLV, mean",
        money(q.mean),
        "net revenue per customer so far",
    );
    row(
        "historic CLV, quantiles",
        money(q.p50),
        &format!(
            "median; p10 {} · p25 {} · p75 {} · p90 {} · p99 {} · max {}",
            money(q.p10),
            money(q.p25),
            money(q.p75),
            money(q.p90),
            money(q.p99),
            money(q.max)
        ),
    );
    if let Some(l) = &m.ltv_to_cac {
        row(
            "LTV:CAC",
            format!("{:.2}", l.ratio),
            &format!("historic CLV {} / CAC {}", money(l.ltv), money(l.cac)),
        );
    }
    let mut out = format!(
        "Shop metrics, orders {} … {}\n",
        m.first_order, m.observation_end
    );
    out.push_str(&s);
    out.push_str(
        "\nCohort retention: share of each first-purchase month buying again k months later\n",
    );
    let width = m
        .cohorts
        .iter()
        .map(|c| c.retention.len())
        .max()
        .unwrap_or(0)
        .min(18);
    out.push_str(&format!("  {:<8} {:>7}", "cohort", "size"));
    for k in 0..width {
        out.push_str(&format!(" {k:>4}"));
    }
    out.push('\n');
    for c in &m.cohorts {
        out.push_str(&format!("  {:<8} {:>7}", c.month, thousands(c.customers)));
        for share in c.retention.iter().take(width) {
            out.push_str(&format!(" {:>4.0}", 100.0 * share));
        }
        out.push('\n');
    }
    out.push_str("  (percent; month 0 is the first-purchase month)\n");
    out
}

/// The simulated log as a table: one row per order, or per SKU line with a catalogue.
fn simulated_table(log: &clv_sim::SimulatedLog, with_lines: bool) -> Table<'static> {
    let width = log.customers.len().to_string().len();
    let id = |c: u32| format!("c{:0width$}", c + 1);
    if !with_lines {
        return Table::new()
            .with(
                "customer_id",
                Values::text(log.orders.iter().map(|o| id(o.customer)).collect()),
            )
            .with(
                "date",
                Values::Date(log.orders.iter().map(|o| o.time).collect()),
            )
            .with(
                "amount",
                Values::Float(log.orders.iter().map(|o| o.amount).collect()),
            );
    }
    let (mut customer, mut order, mut date, mut sku, mut quantity, mut amount) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (n, o) in log.orders.iter().enumerate() {
        for l in &o.lines {
            customer.push(id(o.customer));
            order.push(format!("o{}", n + 1));
            date.push(o.time);
            sku.push(format!("sku{:05}", l.sku + 1));
            quantity.push(l.quantity as i64);
            amount.push(l.amount);
        }
    }
    Table::new()
        .with("customer_id", Values::text(customer))
        .with("order_id", Values::text(order))
        .with("date", Values::Date(date))
        .with("sku", Values::text(sku))
        .with("quantity", Values::Int(quantity))
        .with("amount", Values::Float(amount))
}

pub fn simulate(args: &SimulateArgs) -> Result<()> {
    let days = |s: &str| parse_days(s).map_err(anyhow::Error::msg);
    let start = DateParser::utc()
        .parse(args.start.as_bytes())
        .with_context(|| format!("--start `{}` is not a date (YYYY-MM-DD)", args.start))?;
    let options = SimulationOptions {
        customers: args.customers,
        start,
        acquisition_days: days(&args.acquisition)?,
        observation_days: days(&args.observation)?,
        time_unit: parse(&args.time_unit)?,
        purchases: {
            use crate::cli::SimModel;
            let (kind, defaults) = match args.purchase_model {
                SimModel::Bgnbd => ("bgnbd", [0.243, 4.414, 0.793, 2.426]),
                SimModel::Mbgnbd => ("mbgnbd", [0.243, 4.414, 0.793, 2.426]),
                SimModel::Pareto => ("pareto", [0.5534, 10.5802, 0.6061, 11.6562]),
                SimModel::Bgbb => ("bgbb", [1.204, 0.750, 0.657, 2.783]),
            };
            let params = if args.params.is_empty() {
                &defaults[..]
            } else {
                &args.params[..]
            };
            PurchaseProcess::of(kind, params).with_context(|| {
                format!(
                    "--params needs the 4 parameters of the {} model, comma-separated",
                    crate::modeling::model_name(kind)
                )
            })?
        },
        spend: GammaGamma {
            p: args.p,
            q: args.q,
            gamma: args.gamma,
        },
        catalogue: args.skus.map(|skus| CatalogueOptions {
            skus,
            lines_per_order: args.lines_per_order,
            replenishable_share: args.replenishable_share,
            paired_share: args.paired_share,
            ..Default::default()
        }),
        seed: args.seed,
    };
    let log = clv_sim::simulate(&options)?;
    let table = simulated_table(&log, args.skus.is_some());
    let out = OutputArgs {
        format: Some(if is_parquet(&args.output, args.format) {
            OutputFormat::Parquet
        } else {
            OutputFormat::Csv
        }),
        output: Some(args.output.clone()),
    };
    write_table(&table, &out)?;
    if let Some(path) = &args.catalogue {
        let sku = |k: usize| format!("sku{:05}", k + 1);
        let p = &log.products;
        let catalogue = Table::new()
            .with("sku", Values::text((0..p.len()).map(sku).collect()))
            .with(
                "list_price",
                Values::Float(p.iter().map(|x| x.list_price).collect()),
            )
            .with(
                "cycle_days",
                Values::MaybeFloat(p.iter().map(|x| x.cycle_days).collect()),
            )
            .with(
                "companion",
                Values::text(
                    p.iter()
                        .map(|x| x.companion.map_or(String::new(), |c| sku(c as usize)))
                        .collect(),
                ),
            );
        write_table(
            &catalogue,
            &OutputArgs {
                format: None,
                output: Some(path.clone()),
            },
        )?;
    }
    let end = start + (options.observation_days * DAY as f64) as i64 - 1;
    eprintln!(
        "{} customers, {} orders from {} to {}; summarise with: clv summary {} --observation-end {}",
        thousands(log.customers.len() as u64),
        thousands(log.orders.len() as u64),
        args.start,
        clv_data::time::format_date(end),
        args.output.display(),
        clv_data::time::format_date(end),
    );
    Ok(())
}

/// The CDNOW sample ships inside the binary so `clv demo` works from anywhere.
const CDNOW: &str = include_str!("../tests/data/CDNOW_sample.txt");

/// The demo's valuation: BG/NBD in weeks, the next 52 weeks at 10% a year.
fn demo_valuation() -> crate::cli::ValuationArgs {
    crate::cli::ValuationArgs {
        model: crate::cli::ModelKind::Bgnbd,
        time_unit: "week".into(),
        horizon: "52w".into(),
        discount_rate: "10%".into(),
        tiers: vec![1.0, 5.0, 20.0],
        segment_rules: None,
    }
}

fn demo_input(path: &Path) -> InputArgs {
    InputArgs {
        orders: path.to_path_buf(),
        input_format: None,
        delimiter: None,
        header: false,
        no_header: false,
        customer_col: Some("2".into()),
        date_col: Some("3".into()),
        amount_col: Some("5".into()),
        order_col: None,
        sku_col: None,
        quantity_col: None,
        price_col: None,
        date_format: None,
        timezone: "UTC".into(),
        decimal_comma: false,
        rejects: None,
        strict: false,
        observation_end: Some("1998-06-30".into()),
    }
}

pub fn demo() -> Result<()> {
    let dir: PathBuf = std::env::temp_dir().join("clv-demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("CDNOW_sample.txt");
    std::fs::write(&path, CDNOW).with_context(|| format!("writing {}", path.display()))?;
    println!("clv demo: the CDNOW sample, 2,357 customers who first bought CDs in Q1 1997, followed to June 1998.");
    println!(
        "Data: {} (whitespace-separated: master id, customer id, yyyymmdd, CDs, dollars)\n",
        path.display()
    );

    println!(
        "== Customer summary: 39-week calibration to 1997-09-30, 39-week holdout to 1998-06-30 =="
    );
    let args = SummaryArgs {
        input: demo_input(&path),
        output: OutputArgs {
            format: Some(OutputFormat::Table),
            output: None,
        },
        time_unit: "week".into(),
        period: None,
        calibration_end: Some("1997-09-30".into()),
        include_first: false,
    };
    summary(&args)?;
    println!("(frequency = repeat purchase days; recency and T in weeks; monetary_value = mean repeat purchase)\n");

    println!("== Shop metrics over the whole period ==");
    metrics(&MetricsArgs {
        input: demo_input(&path),
        output: OutputArgs {
            format: Some(OutputFormat::Table),
            output: None,
        },
        window: "90d".into(),
        cac: Some(20.0),
    })?;

    println!("\n== Which model forecasts best: fitted on 39 weeks, checked on the next 39 ==");
    crate::validate::validate(&crate::cli::ValidateArgs {
        input: {
            let mut input = demo_input(&path);
            input.observation_end = Some("1998-06-30".into());
            input
        },
        calibration_end: "1997-09-30".into(),
        models: Vec::new(),
        time_unit: "week".into(),
        format: None,
        penalty: 0.0,
    })?;

    println!(
        "\n== What each customer is worth: scored as of 1998-06-30, next 52 weeks, 10% a year =="
    );
    let input = demo_input(&path);
    let histories = crate::input::load(&input, Period::Day, None)?;
    let scores = crate::modeling::score_table(
        &demo_valuation().score_args(demo_input(&path), crate::cli::Intervals::Delta),
        &histories,
    )?;
    let clv = match scores.column("predicted_clv") {
        Some(Values::Float(v)) => v.clone(),
        _ => unreachable!("score tables have a float column predicted_clv"),
    };
    let shown = [
        "customer_id",
        "frequency",
        "p_alive",
        "expected_purchases",
        "predicted_clv",
        "predicted_clv_lower",
        "predicted_clv_upper",
        "historic_clv",
        "expected_next_order_date",
    ];
    let mut top: Vec<usize> = (0..clv.len()).collect();
    top.sort_by(|&a, &b| clv[b].total_cmp(&clv[a]));
    top.truncate(8);
    println!("Most valuable next year (predicted CLV, discounted):");
    print!("{}", scores.select(&top).project(&shown).render_text(8));

    println!("\n== Who to look after: RFM segments, value tiers, valuable customers at risk ==");
    crate::segments::segments(&crate::cli::SegmentsArgs {
        input: demo_input(&path),
        output: OutputArgs {
            format: Some(OutputFormat::Table),
            output: None,
        },
        valuation: demo_valuation(),
        top: 5,
    })?;

    // CDNOW has no products: a simulated shop with a catalogue shows the product-level views.
    let shop = dir.join("simulated_shop.csv");
    let catalogue = dir.join("simulated_catalogue.csv");
    println!("\n== When to remind and what to offer: a simulated shop with 200 products ==");
    simulate(&SimulateArgs {
        output: shop.clone(),
        format: None,
        customers: 5_000,
        seed: 42,
        start: "2024-01-01".into(),
        acquisition: "12w".into(),
        observation: "52w".into(),
        time_unit: "week".into(),
        purchase_model: crate::cli::SimModel::Bgnbd,
        params: Vec::new(),
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
        skus: Some(200),
        lines_per_order: 3.0,
        replenishable_share: 0.2,
        paired_share: 0.1,
        catalogue: Some(catalogue.clone()),
    })?;
    let shop_input = InputArgs {
        customer_col: None,
        date_col: None,
        amount_col: None,
        observation_end: None,
        ..demo_input(&shop)
    };
    crate::segments::replenish(&crate::cli::ReplenishArgs {
        input: shop_input.clone(),
        output: OutputArgs {
            format: Some(OutputFormat::Table),
            output: None,
        },
        as_of: Some("2024-12-01".into()),
        window: "7d".into(),
        lead_time: "3d".into(),
        min_repeats: 20,
        cycles: None,
    })?;
    println!();
    crate::segments::cross_sell(&crate::cli::CrossSellArgs {
        input: shop_input,
        output: OutputArgs {
            format: Some(OutputFormat::Table),
            output: None,
        },
        min_support: 0.002,
        min_confidence: 0.05,
        min_lift: 1.0,
        top: 5,
        recommendations: None,
        bought_with: None,
    })?;
    println!(
        "(the planted cycles and companion products are in {}: compare)",
        catalogue.display()
    );

    let report = dir.join("cdnow-report.html");
    println!("\n== The report a shop owner reads ==");
    crate::report::report(&crate::cli::ReportArgs {
        input: demo_input(&path),
        output: report.clone(),
        calibration_end: Some("1997-09-30".into()),
        valuation: demo_valuation(),
        window: "90d".into(),
        cac: None,
    })?;
    println!(
        "The CDNOW report (metrics, cohorts, segments, models, holdout, value, customers): {}",
        report.display()
    );

    let p = path.display();
    println!("\nTry next:");
    println!("  clv summary {p} --customer-col 2 --date-col 3 --amount-col 5 --time-unit week --format csv -o summary.csv");
    println!(
        "  clv metrics {p} --customer-col 2 --date-col 3 --amount-col 5 --window 12w --format json"
    );
    println!("  clv fit {p} --customer-col 2 --date-col 3 --amount-col 5 --calibration-end 1997-09-30 --model gg -o spend.json");
    println!("  clv score {p} --customer-col 2 --date-col 3 --amount-col 5 --horizon 365d --discount-rate 10% -o scores.csv");
    println!("  clv score {p} --customer-col 2 --date-col 3 --amount-col 5 --model pareto --intervals bootstrap --draws 200 -o scores.csv");
    println!("  clv report {p} --customer-col 2 --date-col 3 --amount-col 5 --calibration-end 1997-09-30 -o report.html");
    println!("  clv segments {p} --customer-col 2 --date-col 3 --amount-col 5 -o segments.csv");
    println!("  clv customer {p} --customer-col 2 --date-col 3 --amount-col 5 1981");
    println!(
        "  clv replenish {} --as-of 2024-12-01 --window 14d -o reminders.csv",
        shop.display()
    );
    println!(
        "  clv cross-sell {} --recommendations recommendations.csv -o rules.csv",
        shop.display()
    );
    println!("  clv simulate --customers 100000 -o orders.csv && clv summary orders.csv --time-unit week");
    println!("  clv summary YOUR_EXPORT.csv --rejects rejects.csv   # columns are detected from the header");
    Ok(())
}
