//! `clv segments`, `clv customer`, `clv replenish` and `clv cross-sell`: who to look after, what
//! to offer and when to remind, on the terminal and in files.

use crate::cli::{
    CrossSellArgs, CustomerArgs, InputArgs, OutputArgs, OutputFormat, ReplenishArgs, SegmentsArgs,
    ValuationArgs,
};
use crate::input::{end_bound, load_with, thousands};
use anyhow::{Context, Result};
use clv_data::time::{format_date, parse_days, DAY};
use clv_data::{Period, Table, TimeUnit, Values};
use clv_segments::products::ProductLog;
use clv_segments::rfm::{self, RfmInput, RfmScore, SegmentRule};
use clv_segments::{basket, replenish, tiers};
use clv_summary::{summary_rows, Histories, SummaryOptions, SummaryRow};
use std::borrow::Cow;

/// Every customer's RFM scores, segment, predictions and value tier, in summary order.
pub(crate) struct Valued<'h> {
    pub rows: Vec<SummaryRow<'h>>,
    pub recency_days: Vec<f64>,
    pub scores: Vec<RfmScore>,
    pub rules: Vec<SegmentRule>,
    pub segment: Vec<usize>,
    /// `clv score`'s table for the same customers (with intervals), or why the models could not
    /// be fitted (e.g. too few customers): RFM does not need them.
    pub scored: Result<Table<'h>, String>,
    /// The purchase and spend models behind the scores.
    pub models: Option<[crate::modeling::ModelEstimate; 2]>,
    /// Value tier of each customer (empty without scores).
    pub tier: Vec<usize>,
    /// Tier cutoffs as shares.
    pub cutoffs: Vec<f64>,
}

impl Valued<'_> {
    /// A float column of the score table (empty without scores).
    pub fn float(&self, name: &str) -> &[f64] {
        match self.scored.as_ref().map(|t| t.column(name)) {
            Ok(Some(Values::Float(v))) => v,
            Ok(_) => unreachable!("score tables have a float column {name}"),
            Err(_) => &[],
        }
    }
}

fn segment_rules(path: Option<&std::path::Path>) -> Result<Vec<SegmentRule>> {
    let rules = match path {
        None => rfm::default_rules(),
        Some(path) => csv::Reader::from_path(path)
            .with_context(|| format!("reading {}", path.display()))?
            .deserialize()
            .collect::<Result<Vec<SegmentRule>, _>>()
            .with_context(|| {
                format!(
                    "{}: segment rules need the columns segment,r_min,r_max,fm_min,fm_max,action",
                    path.display()
                )
            })?,
    };
    rfm::check_rules(&rules)?;
    Ok(rules)
}

pub(crate) fn value<'h>(
    histories: &'h Histories,
    input: &InputArgs,
    valuation: &ValuationArgs,
    intervals: crate::cli::Intervals,
) -> Result<Valued<'h>> {
    let rows = summary_rows(
        histories,
        SummaryOptions {
            time_unit: TimeUnit::Day,
            include_first: false,
        },
    );
    let end_day = histories.main_end().div_euclid(DAY) * DAY;
    let recency_days: Vec<f64> = rows
        .iter()
        .map(|r| ((end_day - r.last_purchase) / DAY) as f64)
        .collect();
    let inputs: Vec<RfmInput> = rows
        .iter()
        .zip(&recency_days)
        .map(|(r, &recency_days)| RfmInput {
            recency_days,
            frequency: (r.frequency + 1) as f64,
            monetary: r.revenue,
        })
        .collect();
    let scores = rfm::scores(&inputs);
    let rules = segment_rules(valuation.segment_rules.as_deref())?;
    let segment = scores.iter().map(|&s| rfm::segment_of(&rules, s)).collect();
    let (scored, models) = match crate::modeling::score_table_with_models(
        &valuation.score_args(input.clone(), intervals),
        histories,
    ) {
        Ok((table, models)) => (Ok(table.whole()), Some(models)),
        Err(e) => (Err(format!("{e:#}")), None),
    };
    let mut cutoffs: Vec<f64> = valuation.tiers.iter().map(|t| t / 100.0).collect();
    anyhow::ensure!(
        cutoffs.iter().all(|c| *c > 0.0 && *c <= 1.0) && cutoffs.windows(2).all(|w| w[0] < w[1]),
        "--tiers takes increasing percentages between 0 and 100, e.g. 1,5,20"
    );
    cutoffs.dedup();
    let mut valued = Valued {
        rows,
        recency_days,
        scores,
        rules,
        segment,
        scored,
        models,
        tier: Vec::new(),
        cutoffs,
    };
    if valued.scored.is_ok() {
        valued.tier = tiers::tiers(valued.float("predicted_clv"), &valued.cutoffs);
    }
    Ok(valued)
}

pub fn segments(args: &SegmentsArgs) -> Result<()> {
    let histories = crate::input::load(&args.input, Period::Day, None)?;
    // Segments and tiers show no intervals: none are computed.
    let v = value(
        &histories,
        &args.input,
        &args.valuation,
        crate::cli::Intervals::None,
    )?;
    let n = v.rows.len();
    let as_of = format_date(histories.main_end());

    let totals = v.segment_totals();
    let sums: Vec<(usize, f64, u64, f64)> = totals
        .iter()
        .map(|t| (t.customers, t.revenue, t.orders, t.recency_days))
        .collect();
    let revenue: f64 = v.rows.iter().map(|r| r.revenue).sum();
    let present: Vec<usize> = (0..v.rules.len()).filter(|&k| sums[k].0 > 0).collect();
    let summary = Table::new()
        .with(
            "segment",
            Values::text(
                present
                    .iter()
                    .map(|&k| v.rules[k].segment.clone())
                    .collect(),
            ),
        )
        .with(
            "customers",
            Values::Int(present.iter().map(|&k| sums[k].0 as i64).collect()),
        )
        .with(
            "share_%",
            Values::Float(
                present
                    .iter()
                    .map(|&k| 100.0 * sums[k].0 as f64 / n as f64)
                    .collect(),
            ),
        )
        .with(
            "revenue_share_%",
            Values::Float(
                present
                    .iter()
                    .map(|&k| 100.0 * sums[k].1 / revenue)
                    .collect(),
            ),
        )
        .with(
            "avg_order_value",
            Values::Float(
                present
                    .iter()
                    .map(|&k| sums[k].1 / sums[k].2 as f64)
                    .collect(),
            ),
        )
        .with(
            "avg_recency_days",
            Values::Float(
                present
                    .iter()
                    .map(|&k| sums[k].3 / sums[k].0 as f64)
                    .collect(),
            ),
        )
        .with(
            "what_to_do",
            Values::text(present.iter().map(|&k| v.rules[k].action.clone()).collect()),
        );
    println!(
        "RFM segments of {} customers as of {as_of} (recency: days since the last purchase; frequency: purchase days; monetary: net revenue; scores 1–5 by quintile)",
        thousands(n as u64)
    );
    print!("{}", summary.render_text(usize::MAX));

    if let Err(why) = &v.scored {
        println!(
            "\nValue tiers need the purchase and spend models, which could not be fitted: {why}"
        );
    } else {
        print_tiers(&v, args);
    }
    if args.output.output.is_some() || args.output.format.is_some_and(|f| f != OutputFormat::Table)
    {
        let table = per_customer_table(&v);
        crate::output::write_table(&table, &args.output)?;
    }
    Ok(())
}

/// The value tiers and the valuable customers most at risk.
fn print_tiers(v: &Valued<'_>, args: &SegmentsArgs) {
    let n = v.rows.len();
    let predicted = v.float("predicted_clv");
    let total_predicted: f64 = predicted.iter().sum();
    let tier_rows: Vec<usize> = (0..=v.cutoffs.len()).collect();
    let tier_of = &v.tier;
    let in_tier = |k: usize| (0..n).filter(move |&i| tier_of[i] == k);
    let tiers_table = Table::new()
        .with(
            "tier",
            Values::text(
                tier_rows
                    .iter()
                    .map(|&k| tiers::tier_name(&v.cutoffs, k))
                    .collect(),
            ),
        )
        .with(
            "customers",
            Values::Int(
                tier_rows
                    .iter()
                    .map(|&k| in_tier(k).count() as i64)
                    .collect(),
            ),
        )
        .with(
            "predicted_clv_share_%",
            Values::Float(
                tier_rows
                    .iter()
                    .map(|&k| {
                        100.0 * in_tier(k).map(|i| predicted[i]).sum::<f64>() / total_predicted
                    })
                    .collect(),
            ),
        )
        .with(
            "min_predicted_clv",
            Values::Float(
                tier_rows
                    .iter()
                    .map(|&k| {
                        in_tier(k)
                            .map(|i| predicted[i])
                            .fold(f64::INFINITY, f64::min)
                    })
                    .map(|m| if m.is_finite() { m } else { 0.0 })
                    .collect(),
            ),
        );
    println!(
        "\nValue tiers by predicted CLV (next {}, {} a year, {} model):",
        args.valuation.horizon,
        args.valuation.discount_rate,
        crate::modeling::model_name(model_kind(&args.valuation))
    );
    print!("{}", tiers_table.render_text(usize::MAX));

    let p_alive = v.float("p_alive");
    let at_risk =
        tiers::valuable_at_risk(predicted, p_alive, *v.cutoffs.last().unwrap_or(&0.2), 0.5);
    println!(
        "\nValuable customers most at risk ({} of them: CLV if still active in the top {}%, P(alive) < 0.5), by value at risk = (1 − P(alive)) × CLV if active:",
        thousands(at_risk.len() as u64),
        v.cutoffs.last().unwrap_or(&0.2) * 100.0
    );
    let shown: Vec<(usize, f64)> = at_risk.into_iter().take(args.top).collect();
    let risk_table = Table::new()
        .with(
            "customer_id",
            Values::Text(
                shown
                    .iter()
                    .map(|&(i, _)| Cow::Borrowed(v.rows[i].customer_id))
                    .collect(),
            ),
        )
        .with(
            "segment",
            Values::text(
                shown
                    .iter()
                    .map(|&(i, _)| v.rules[v.segment[i]].segment.clone())
                    .collect(),
            ),
        )
        .with(
            "p_alive",
            Values::Float(shown.iter().map(|&(i, _)| p_alive[i]).collect()),
        )
        .with(
            "clv_if_active",
            Values::Float(
                shown
                    .iter()
                    .map(|&(i, _)| predicted[i] / p_alive[i])
                    .collect(),
            ),
        )
        .with(
            "value_at_risk",
            Values::Float(shown.iter().map(|&(_, r)| r).collect()),
        )
        .with(
            "historic_clv",
            Values::Float(shown.iter().map(|&(i, _)| v.rows[i].revenue).collect()),
        )
        .with(
            "last_purchase",
            Values::Date(
                shown
                    .iter()
                    .map(|&(i, _)| v.rows[i].last_purchase)
                    .collect(),
            ),
        );
    print!("{}", risk_table.render_text(usize::MAX));
}

pub(crate) fn model_kind(v: &ValuationArgs) -> &'static str {
    match v.model {
        crate::cli::ModelKind::Mbgnbd => "mbgnbd",
        crate::cli::ModelKind::Pareto => "pareto",
        _ => "bgnbd",
    }
}

fn per_customer_table<'h>(v: &Valued<'h>) -> Table<'h> {
    let rows = &v.rows;
    let score =
        |f: fn(&RfmScore) -> u8| Values::Int(v.scores.iter().map(|s| f(s) as i64).collect());
    let table = Table::new()
        .with(
            "customer_id",
            Values::Text(rows.iter().map(|r| Cow::Borrowed(r.customer_id)).collect()),
        )
        .with("recency_days", Values::Float(v.recency_days.clone()))
        .with(
            "frequency",
            Values::Int(rows.iter().map(|r| r.frequency as i64 + 1).collect()),
        )
        .with(
            "monetary",
            Values::Float(rows.iter().map(|r| r.revenue).collect()),
        )
        .with("r_score", score(|s| s.r))
        .with("f_score", score(|s| s.f))
        .with("m_score", score(|s| s.m))
        .with(
            "rfm",
            Values::text(
                v.scores
                    .iter()
                    .map(|s| format!("{}{}{}", s.r, s.f, s.m))
                    .collect(),
            ),
        )
        .with(
            "segment",
            Values::Text(
                v.segment
                    .iter()
                    .map(|&k| Cow::Owned(v.rules[k].segment.clone()))
                    .collect(),
            ),
        );
    if v.scored.is_err() {
        return table;
    }
    table
        .with("p_alive", Values::Float(v.float("p_alive").to_vec()))
        .with(
            "predicted_clv",
            Values::Float(v.float("predicted_clv").to_vec()),
        )
        .with(
            "tier",
            Values::text(
                v.tier
                    .iter()
                    .map(|&k| tiers::tier_name(&v.cutoffs, k))
                    .collect(),
            ),
        )
}

/// The customer ledger and, from the same read, the product lines up to the observation end.
pub(crate) fn load_with_products(
    input: &InputArgs,
    keep_orders: bool,
) -> Result<(Histories, ProductLog)> {
    let dates = crate::input::date_parser(input)?;
    let end = end_bound(
        &dates,
        "--observation-end",
        input.observation_end.as_deref(),
    )?;
    let mut products = ProductLog::new(end, keep_orders);
    let histories = load_with(
        input,
        Period::Day,
        None,
        Some(&mut |line| products.push(line)),
    )?;
    Ok((histories, products))
}

/// A segment's customers, net revenue, orders and summed recency.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SegmentTotal {
    pub customers: usize,
    pub revenue: f64,
    pub orders: u64,
    pub recency_days: f64,
}

impl Valued<'_> {
    /// Totals per rule, in rule order.
    pub fn segment_totals(&self) -> Vec<SegmentTotal> {
        let mut totals = vec![SegmentTotal::default(); self.rules.len()];
        for (i, r) in self.rows.iter().enumerate() {
            let t = &mut totals[self.segment[i]];
            t.customers += 1;
            t.revenue += r.revenue;
            t.orders += r.orders;
            t.recency_days += self.recency_days[i];
        }
        totals
    }
}

pub fn customer(args: &CustomerArgs) -> Result<()> {
    let (histories, products) = load_with_products(&args.input, false)?;
    let v = value(
        &histories,
        &args.input,
        &args.valuation,
        crate::cli::Intervals::Delta,
    )?;
    let scored = v.scored.as_ref().map_err(|e| {
        anyhow::anyhow!("the profile's predictions need the purchase and spend models: {e}")
    })?;
    let Some(i) = v.rows.iter().position(|r| r.customer_id == args.customer) else {
        anyhow::bail!(
            "no customer `{}` with a purchase up to {} (ids look like `{}`)",
            args.customer,
            format_date(histories.main_end()),
            v.rows.first().map_or("", |r| r.customer_id)
        );
    };
    let r = &v.rows[i];
    let history = histories
        .iter()
        .nth(i)
        .expect("summary rows follow the histories");
    println!("Customer {}", r.customer_id);
    println!(
        "  history      first purchase {}, last {} ({} days before {}); {} orders on {} days; net revenue {:.2}",
        format_date(r.first_purchase),
        format_date(r.last_purchase),
        v.recency_days[i],
        format_date(histories.main_end()),
        r.orders,
        r.frequency + 1,
        r.revenue
    );
    let mut gaps: Vec<i64> = history
        .main
        .periods
        .windows(2)
        .map(|w| (w[1].time - w[0].time) / DAY)
        .collect();
    gaps.sort_unstable();
    match gaps.len() {
        0 => println!("  usual gap    one purchase day so far: no gap yet"),
        k => println!(
            "  usual gap    {} days between purchases (median of {k} gaps; shortest {}, longest {})",
            if k % 2 == 1 {
                gaps[k / 2] as f64
            } else {
                (gaps[k / 2 - 1] + gaps[k / 2]) as f64 / 2.0
            },
            gaps[0],
            gaps[k - 1]
        ),
    }
    let s = v.scores[i];
    let rule = &v.rules[v.segment[i]];
    println!(
        "  segment      {} (R {}, F {}, M {}): {}",
        rule.segment, s.r, s.f, s.m, rule.action
    );
    println!(
        "  tier         {} by predicted CLV",
        tiers::tier_name(&v.cutoffs, v.tier[i])
    );
    let f = |name: &str| v.float(name)[i];
    let lo_hi = |name: &str| match (
        scored.column(&format!("{name}_lower")),
        scored.column(&format!("{name}_upper")),
    ) {
        (Some(Values::Float32(lo)), Some(Values::Float32(hi))) => {
            format!(" (90%: {:.4} … {:.4})", lo[i], hi[i])
        }
        _ => String::new(),
    };
    println!(
        "  predictions  next {}, {} model, {} a year:",
        args.valuation.horizon,
        crate::modeling::model_name(model_kind(&args.valuation)),
        args.valuation.discount_rate
    );
    for (label, name) in [
        ("P(alive)", "p_alive"),
        ("expected purchases", "expected_purchases"),
        ("expected spend per order", "expected_spend"),
        ("predicted CLV", "predicted_clv"),
    ] {
        println!("    {label:<26}{:.4}{}", f(name), lo_hi(name));
    }
    if let Some(Values::MaybeDate(dates)) = scored.column("expected_next_order_date") {
        println!(
            "    {:<26}{} (the median wait if still active; P(order by then) {:.3})",
            "expected next order",
            dates[i].map_or("not expected".into(), format_date),
            f("next_order_probability")
        );
    }
    // Favourite products: units and purchase days per SKU.
    if let Some(c) = products.customers.get(r.customer_id.as_bytes()) {
        let mut by_sku: std::collections::BTreeMap<u32, (f64, std::collections::BTreeSet<i32>)> =
            Default::default();
        for l in products.lines.iter().filter(|l| l.customer == c) {
            let e = by_sku.entry(l.sku).or_default();
            e.0 += l.quantity as f64;
            e.1.insert(l.day);
        }
        let mut favourites: Vec<(u32, f64, usize)> = by_sku
            .into_iter()
            .map(|(k, (u, d))| (k, u, d.len()))
            .collect();
        favourites.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)));
        let list: Vec<String> = favourites
            .iter()
            .take(5)
            .map(|(k, units, days)| {
                format!("{} ({units} units on {days} days)", products.skus.name(*k))
            })
            .collect();
        println!("  favourites   {}", list.join(", "));
    } else {
        println!(
            "  favourites   no SKU lines for this customer (pass --sku-col if the file has them)"
        );
    }
    println!("  purchases    (day, net value)");
    for p in history.main.periods.iter().rev().take(10) {
        println!("    {}  {:>10.2}", format_date(p.time), p.value);
    }
    if history.main.periods.len() > 10 {
        println!("    … {} earlier", history.main.periods.len() - 10);
    }
    Ok(())
}

/// Product lines up to `end` (inclusive), with the usual read report.
fn read_products(input: &InputArgs, end: Option<i64>, keep_orders: bool) -> Result<ProductLog> {
    let dates = crate::input::date_parser(input)?;
    let mut products = ProductLog::new(end, keep_orders);
    let started = std::time::Instant::now();
    let (report, rejects) =
        crate::input::read_orders(input, &dates, &mut |line| products.push(line))?;
    tracing::info!(rows = report.rows, elapsed = ?started.elapsed(), "read");
    crate::input::print_read_report(&report, &rejects, None);
    eprintln!(
        "product lines: {} kept from {} customers and {} SKUs; left out: {} without a SKU, {} returns, {} after the end",
        thousands(products.lines.len() as u64),
        thousands(products.customers.len() as u64),
        thousands(products.skus.len() as u64),
        thousands(products.without_sku),
        thousands(products.returns),
        thousands(products.after_end),
    );
    anyhow::ensure!(
        !products.lines.is_empty(),
        "no product lines: the file needs a SKU column (pass --sku-col NAME|N)"
    );
    Ok(products)
}

pub fn replenish(args: &ReplenishArgs) -> Result<()> {
    let dates = crate::input::date_parser(&args.input)?;
    let as_of = end_bound(&dates, "--as-of", args.as_of.as_deref())?;
    let products = read_products(&args.input, as_of, false)?;
    let as_of_day = match as_of {
        Some(t) => t.div_euclid(DAY) as i32,
        None => products.lines.iter().map(|l| l.day).max().expect("lines"),
    };
    let days = |s: &str, flag: &str| -> Result<i32> {
        Ok(parse_days(s)
            .map_err(|e| anyhow::anyhow!("{flag}: {e}"))?
            .round() as i32)
    };
    let (window, lead) = (
        days(&args.window, "--window")?,
        days(&args.lead_time, "--lead-time")?,
    );
    let started = std::time::Instant::now();
    let repeats = products.repeats();
    let groups = || repeats.iter();
    let cycles = replenish::cycles(groups(), products.skus.len(), args.min_repeats);
    let reminders = replenish::reminders(groups(), &cycles, as_of_day, window, lead);
    tracing::info!(elapsed = ?started.elapsed(), "cycles and reminders");
    let with_cycle = cycles.iter().filter(|c| c.is_some()).count();
    println!(
        "{} of {} SKUs have a repeat-purchase cycle (at least {} repeat purchases by the same customer); as of {}",
        thousands(with_cycle as u64),
        thousands(products.skus.len() as u64),
        args.min_repeats,
        format_date(as_of_day as i64 * DAY)
    );
    let mut by_evidence: Vec<usize> = (0..cycles.len()).filter(|&k| cycles[k].is_some()).collect();
    by_evidence.sort_by_key(|&k| std::cmp::Reverse(cycles[k].as_ref().map_or(0, |c| c.gaps)));
    let cycle_table = |skus: &[usize]| {
        let c = |k: usize| cycles[k].as_ref().expect("with a cycle");
        Table::new()
            .with("sku", products.skus.names(skus.iter().map(|&k| k as u32)))
            .with(
                "median_gap_days",
                Values::Float(skus.iter().map(|&k| c(k).median).collect()),
            )
            .with(
                "lower_quartile_days",
                Values::Float(skus.iter().map(|&k| c(k).lower_quartile).collect()),
            )
            .with(
                "upper_quartile_days",
                Values::Float(skus.iter().map(|&k| c(k).upper_quartile).collect()),
            )
            .with(
                "repeat_purchases",
                Values::Int(skus.iter().map(|&k| c(k).gaps as i64).collect()),
            )
            .with(
                "customers",
                Values::Int(skus.iter().map(|&k| c(k).customers as i64).collect()),
            )
    };
    print!(
        "{}",
        cycle_table(&by_evidence[..by_evidence.len().min(10)]).render_text(usize::MAX)
    );
    if let Some(path) = &args.cycles {
        crate::output::write_table(
            &cycle_table(&by_evidence),
            &OutputArgs {
                format: None,
                output: Some(path.clone()),
            },
        )?;
    }
    println!(
        "\n{} reminders to send from {} for {} days ({} days before each purchase is due; customers who re-ordered are due a cycle after their last purchase):",
        thousands(reminders.len() as u64),
        format_date(as_of_day as i64 * DAY),
        window,
        lead
    );
    let date = |d: i32| d as i64 * DAY;
    let table = Table::new()
        .with(
            "customer_id",
            products
                .customers
                .names(reminders.iter().map(|r| r.customer)),
        )
        .with("sku", products.skus.names(reminders.iter().map(|r| r.item)))
        .with(
            "purchases",
            Values::Int(reminders.iter().map(|r| r.purchases as i64).collect()),
        )
        .with(
            "last_purchase",
            Values::Date(reminders.iter().map(|r| date(r.last)).collect()),
        )
        .with(
            "typical_gap_days",
            Values::Float(
                reminders
                    .iter()
                    .map(|r| cycles[r.item as usize].as_ref().map_or(0.0, |c| c.median))
                    .collect(),
            ),
        )
        .with(
            "due",
            Values::Date(reminders.iter().map(|r| date(r.due)).collect()),
        )
        .with(
            "remind_on",
            Values::Date(reminders.iter().map(|r| date(r.remind_on)).collect()),
        );
    crate::output::write_table(&table, &args.output)?;
    Ok(())
}

pub fn cross_sell(args: &CrossSellArgs) -> Result<()> {
    let dates = crate::input::date_parser(&args.input)?;
    let end = end_bound(
        &dates,
        "--observation-end",
        args.input.observation_end.as_deref(),
    )?;
    let products = read_products(&args.input, end, true)?;
    let started = std::time::Instant::now();
    let baskets = basket::Baskets::from_pairs(products.basket_pairs());
    let frequent = basket::frequent(&baskets, args.min_support, 3);
    let rules = basket::rules(&frequent, args.min_confidence, args.min_lift);
    tracing::info!(elapsed = ?started.elapsed(), baskets = baskets.len(), "rules");
    let single = (0..baskets.len())
        .filter(|&b| baskets.basket(b).len() == 1)
        .count();
    println!(
        "{} baskets ({} of a single product, which count in every support but form no pair); {} frequent pairs and {} triples at support ≥ {}; {} rules with confidence ≥ {} and lift ≥ {}",
        thousands(baskets.len() as u64),
        thousands(single as u64),
        thousands(frequent.pairs.len() as u64),
        thousands(frequent.triples.len() as u64),
        args.min_support,
        thousands(rules.len() as u64),
        args.min_confidence,
        args.min_lift
    );
    let names = |items: &[u32]| -> String {
        items
            .iter()
            .map(|&i| products.skus.name(i))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let rules_table = |rules: &[basket::Rule]| {
        Table::new()
            .with(
                "antecedent",
                Values::text(rules.iter().map(|r| names(&r.antecedent)).collect()),
            )
            .with(
                "consequent",
                Values::text(rules.iter().map(|r| names(&r.consequent)).collect()),
            )
            .with(
                "antecedent_support",
                Values::Float(rules.iter().map(|r| r.antecedent_support).collect()),
            )
            .with(
                "consequent_support",
                Values::Float(rules.iter().map(|r| r.consequent_support).collect()),
            )
            .with(
                "support",
                Values::Float(rules.iter().map(|r| r.support).collect()),
            )
            .with(
                "confidence",
                Values::Float(rules.iter().map(|r| r.confidence).collect()),
            )
            .with(
                "lift",
                Values::Float(rules.iter().map(|r| r.lift).collect()),
            )
    };
    println!("\nStrongest rules (by lift):");
    print!(
        "{}",
        rules_table(&rules[..rules.len().min(10)]).render_text(usize::MAX)
    );
    // Bundle candidates: frequent pairs and triples bought together more than by chance.
    let bundles: Vec<basket::Itemset> = frequent
        .itemsets()
        .into_iter()
        .filter(|s| {
            let expected: f64 = s
                .items
                .iter()
                .map(|&i| frequent.support(frequent.item_counts[i as usize]))
                .product();
            frequent.support(s.count) > expected
        })
        .take(10)
        .collect();
    println!("\nBundle candidates (most frequent sets bought together more often than by chance):");
    let bundle_table = Table::new()
        .with(
            "products",
            Values::text(bundles.iter().map(|s| names(&s.items)).collect()),
        )
        .with(
            "baskets",
            Values::Int(bundles.iter().map(|s| s.count as i64).collect()),
        )
        .with(
            "support",
            Values::Float(bundles.iter().map(|s| frequent.support(s.count)).collect()),
        );
    print!("{}", bundle_table.render_text(usize::MAX));
    if args.output.output.is_some() || args.output.format.is_some_and(|f| f != OutputFormat::Table)
    {
        crate::output::write_table(&rules_table(&rules), &args.output)?;
    }
    let with = basket::bought_with(&rules, args.top);
    let to_file = |path: &std::path::Path, table: &Table<'_>| {
        crate::output::write_table(
            table,
            &OutputArgs {
                format: None,
                output: Some(path.to_path_buf()),
            },
        )
    };
    if let Some(path) = &args.bought_with {
        let mut items: Vec<u32> = with.keys().copied().collect();
        items.sort_by(|a, b| products.skus.name(*a).cmp(products.skus.name(*b)));
        let rows: Vec<(u32, usize, &basket::Rule)> = items
            .iter()
            .flat_map(|&i| {
                with[&i]
                    .iter()
                    .enumerate()
                    .map(move |(k, r)| (i, k + 1, *r))
            })
            .collect();
        let table = Table::new()
            .with("sku", products.skus.names(rows.iter().map(|(i, _, _)| *i)))
            .with(
                "rank",
                Values::Int(rows.iter().map(|(_, k, _)| *k as i64).collect()),
            )
            .with(
                "bought_with",
                Values::text(rows.iter().map(|(_, _, r)| names(&r.consequent)).collect()),
            )
            .with(
                "confidence",
                Values::Float(rows.iter().map(|(_, _, r)| r.confidence).collect()),
            )
            .with(
                "lift",
                Values::Float(rows.iter().map(|(_, _, r)| r.lift).collect()),
            )
            .with(
                "support",
                Values::Float(rows.iter().map(|(_, _, r)| r.support).collect()),
            );
        to_file(path, &table)?;
    }
    if let Some(path) = &args.recommendations {
        // Each customer's distinct SKUs, then their suggestions.
        let mut bought: Vec<(u32, u32)> =
            products.lines.iter().map(|l| (l.customer, l.sku)).collect();
        bought.sort_unstable();
        bought.dedup();
        let mut rows: Vec<(u32, usize, basket::Suggestion)> = Vec::new();
        for group in bought.chunk_by(|a, b| a.0 == b.0) {
            let items: Vec<u32> = group.iter().map(|p| p.1).collect();
            for (k, s) in basket::suggestions(&with, &items, args.top)
                .into_iter()
                .enumerate()
            {
                rows.push((group[0].0, k + 1, s));
            }
        }
        let table = Table::new()
            .with(
                "customer_id",
                products.customers.names(rows.iter().map(|(c, _, _)| *c)),
            )
            .with(
                "rank",
                Values::Int(rows.iter().map(|(_, k, _)| *k as i64).collect()),
            )
            .with(
                "sku",
                products.skus.names(rows.iter().map(|(_, _, s)| s.item)),
            )
            .with(
                "because_of",
                products.skus.names(rows.iter().map(|(_, _, s)| s.because)),
            )
            .with(
                "confidence",
                Values::Float(rows.iter().map(|(_, _, s)| s.confidence).collect()),
            )
            .with(
                "lift",
                Values::Float(rows.iter().map(|(_, _, s)| s.lift).collect()),
            );
        to_file(path, &table)?;
    }
    Ok(())
}
