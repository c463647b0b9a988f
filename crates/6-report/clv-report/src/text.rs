//! Terminal pages: the same results as the HTML report, as plain text for `clv metrics`, `clv fit`,
//! `clv validate`, `clv retention` and `clv customer`. Each returns a `String`; the caller prints.

use clv_data::thousands;
use clv_data::time::format_date;
use clv_data::{Encoding, ReadReport, RejectLog};
use clv_models::{FitReport, ModelKind};
use clv_score::discrete::RetentionRow;
use clv_score::Validation;
use clv_segments::basket::Together;
use clv_segments::products::ProductLog;
use clv_segments::profile::{Predicted, Profile};
use clv_segments::replenish::Plan;
use clv_segments::{basket, tables, Valued};
use clv_summary::{LedgerStats, ShopMetrics};
use std::fmt::Write;

/// The data-quality report of a read: what was read, the column mapping, every kind of rejected
/// row with an example, and (after netting) what the ledger left out or netted.
pub fn read_report(
    report: &ReadReport,
    rejects: &RejectLog,
    stats: Option<&LedgerStats>,
) -> String {
    let layout = match (report.delimiter, report.header) {
        (None, _) => "parquet".to_string(),
        (Some(d), h) => format!(
            "{d}-delimited, {}",
            if h { "header row" } else { "no header" }
        ),
    };
    let mut out = format!(
        "read {}: {} rows, {} accepted, {} rejected ({layout})\n",
        report.file,
        thousands(report.rows),
        thousands(report.accepted),
        thousands(report.rejected)
    );
    let mapping: Vec<String> = report
        .mapping
        .columns
        .iter()
        .map(|(role, c)| {
            format!(
                "{role} = {}{}",
                c.name,
                if c.detected { " (detected)" } else { "" }
            )
        })
        .collect();
    let _ = writeln!(out, "columns: {}", mapping.join(", "));
    // Plain UTF-8 needs no line; anything else is said, so a misread is visible.
    if let Some(t) = report
        .text
        .as_ref()
        .filter(|t| t.compression.is_some() || t.encoding != Encoding::Utf8)
    {
        let how = if t.encoding_detected {
            "detected"
        } else {
            "as given"
        };
        let packed = t
            .compression
            .map(|c| format!("{c}-compressed, "))
            .unwrap_or_default();
        let _ = writeln!(out, "text: {packed}{} ({how})", t.encoding.name());
    }
    if report.filtered > 0 {
        let _ = writeln!(
            out,
            "  left out {:>9} rows by the row filters (--where, --exclude-test)",
            thousands(report.filtered)
        );
    }
    if !report.mapping.has_value() {
        out.push_str("amounts: none (no amount or price column): every order counts, worth 0; purchase predictions only (pass --amount-col if the file has amounts)\n");
    } else if let Some(d) = &report.decimal {
        let how = match (&d.example, d.detected) {
            (_, false) => "as given".to_string(),
            (Some(e), true) => format!("detected from values like `{e}`"),
            (None, true) => "no value has a separator".to_string(),
        };
        let _ = writeln!(out, "amounts: {} ({how})", d.mark.name());
    }
    if rejects.total() > 0 {
        for (reason, n) in rejects.counts() {
            let _ = writeln!(
                out,
                "  rejected {:>9} rows: {reason} ({})",
                thousands(*n),
                reason.advice()
            );
        }
        for example in rejects.examples() {
            let _ = writeln!(out, "    e.g. {example}");
        }
        out.push_str(
            "  (write every rejected row with --rejects FILE; stop at the first with --strict)\n",
        );
    }
    for (n, what) in stats.map(LedgerStats::described).into_iter().flatten() {
        if n > 0 {
            let _ = writeln!(out, "  {:>9} {what}", thousands(n));
        }
    }
    if let Some(s) = stats.filter(|s| s.value_of_customers_left_out != 0.0) {
        let _ = writeln!(
            out,
            "  net value {} of the customers left out is outside their revenue (the lines up to the end total {})",
            money(s.value_of_customers_left_out),
            money(s.value_in_window)
        );
    }
    out
}

/// The rows of a small input file that were skipped, with examples (empty when none were).
pub fn skipped(name: &str, rejects: &RejectLog) -> String {
    if rejects.total() == 0 {
        return String::new();
    }
    let counts: Vec<String> = rejects
        .counts()
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    let mut out = format!(
        "skipped {} rows of {name} ({})\n",
        rejects.total(),
        counts.join(", ")
    );
    for example in rejects.examples() {
        let _ = writeln!(out, "    e.g. {example}");
    }
    out
}

/// What a BG/BB fit says about a new customer over `n` opportunities.
pub fn opportunities(p: &clv_models::BgBbParams, n: f64) -> String {
    format!(
        "  a new customer makes {:.3} purchases in the first {n} opportunities on average; mean purchase probability {:.3}, mean dropout probability {:.3} per opportunity\n",
        p.expected_purchases_new(n),
        p.alpha / (p.alpha + p.beta),
        p.gamma / (p.gamma + p.delta),
    )
}

/// The closing line of a summary: customers, repeat purchases, periods, unit, and the holdout.
pub fn summary_line(h: &clv_summary::Histories, unit: clv_data::TimeUnit) -> String {
    let mut line = format!(
        "{} customers, {} repeat purchases ({} periods, times in {unit}s) up to {}",
        thousands(h.len() as u64),
        thousands(h.repeat_purchases()),
        h.period.name(),
        format_date(h.main_end()),
    );
    if h.calibration_end.is_some() {
        let _ = write!(
            line,
            "; holdout to {}: {} purchases",
            format_date(h.observation_end),
            thousands(h.holdout_purchases())
        );
    }
    line
}

/// What product analyses kept and left out.
pub fn product_lines(p: &ProductLog) -> String {
    format!(
        "product lines: {} kept from {} customers and {} SKUs; left out: {} without a SKU, {} returns, {} after the end",
        thousands(p.lines.len() as u64),
        thousands(p.customers.len() as u64),
        thousands(p.skus.len() as u64),
        thousands(p.without_sku),
        thousands(p.returns),
        thousands(p.after_end),
    )
}

/// Money with thousands separators and cents.
pub fn money(x: f64) -> String {
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

/// The shop metrics page.
pub fn metrics(m: &ShopMetrics) -> String {
    let mut s = String::new();
    let mut row = |label: &str, value: String, note: &str| {
        let _ = writeln!(s, "  {label:<30} {value:>14}  {note}");
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
    let _ = write!(out, "  {:<8} {:>7}", "cohort", "size");
    for k in 0..width {
        let _ = write!(out, " {k:>4}");
    }
    out.push('\n');
    for c in &m.cohorts {
        let _ = write!(out, "  {:<8} {:>7}", c.month, thousands(c.customers));
        for share in c.retention.iter().take(width) {
            let _ = write!(out, " {:>4.0}", 100.0 * share);
        }
        out.push('\n');
    }
    out.push_str("  (percent; month 0 is the first-purchase month)\n");
    out
}

/// A fitted model's estimates, errors, intervals and convergence; `unit` is what its rates are
/// per, `excluded` the customers left out of its data.
pub fn fit_report(kind: ModelKind, unit: &str, r: &FitReport, excluded: u64) -> String {
    let title = match kind {
        ModelKind::Purchase(_) => format!("{kind} purchase model (rates per {unit})"),
        ModelKind::BgBb => format!("BG/BB model (one purchase opportunity per {unit})"),
        ModelKind::Sbg => {
            format!("Shifted-beta-geometric retention model (churn probability per {unit})")
        }
        ModelKind::Spend(_) => "Gamma-Gamma spend model".to_string(),
    };
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "  {:<8} {:>12} {:>12} {:>26}",
        "param", "estimate", "std. error", "95% interval"
    );
    for i in 0..r.params.len() {
        if r.undetermined.contains(&r.names[i]) || r.poorly_determined.contains(&r.names[i]) {
            let (name, value) = (&r.names[i], r.params[i]);
            let how = match r.undetermined.contains(name) {
                true => "not determined",
                false => "poorly determined",
            };
            let _ = writeln!(out, "  {name:<8} {value:>12.6} {:>12} {how:>26}", "—");
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<8} {:>12.6} {:>12.6} {:>12.6} … {:.6}",
            r.names[i], r.params[i], r.standard_errors[i], r.lower_95[i], r.upper_95[i]
        );
    }
    let left_out = if excluded > 0 {
        format!(
            "; {} without repeat purchases or with non-positive spend left out",
            thousands(excluded)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  log-likelihood {:.4} over {} customers ({} distinct patterns{left_out})",
        r.log_likelihood,
        thousands(r.customers as u64),
        thousands(r.patterns as u64),
    );
    let _ = writeln!(
        out,
        "  converged: {}, {} iterations from start {}, gradient norm {:.1e}; intervals from the observed information",
        r.method,
        r.iterations,
        r.start + 1,
        r.gradient_norm
    );
    out.push_str(&determination(r));
    out
}

/// What a fit's parameters the data cannot pin down mean, for people (empty when all are).
pub fn determination(r: &FitReport) -> String {
    let mut out = String::new();
    if !r.undetermined.is_empty() {
        let _ = writeln!(
            out,
            "  not determined by the data: {} (the likelihood is flat, or all but flat, along them: a ridge). The fit is a maximum and its predictions may still be fine; compare models on a holdout (clv validate).",
            r.undetermined.join(", ")
        );
    }
    if !r.poorly_determined.is_empty() {
        let _ = writeln!(
            out,
            "  poorly determined: {} (alone or in a combination, known only to within a factor of 7 or more either way). Predictions may still be fine; compare models on a holdout (clv validate).",
            r.poorly_determined.join(", ")
        );
    }
    out
}

/// The holdout comparison: totals, by calibration frequency, and cumulative by week.
pub fn validation(v: &Validation) -> String {
    let mut out = String::new();
    let names: Vec<String> = v.models.iter().map(|m| m.model.to_string()).collect();
    let _ = writeln!(
        out,
        "Holdout validation: {} customers, calibration to {}, holdout to {} ({} weeks); times in {}s",
        thousands(v.customers as u64),
        v.calibration_end,
        v.observation_end,
        v.holdout_weeks,
        v.time_unit
    );
    let _ = writeln!(
        out,
        "  actual holdout purchases: {}",
        thousands(v.actual_holdout_purchases)
    );
    let _ = writeln!(
        out,
        "  {:<11} {:>12} {:>12} {:>10} {:>8} {:>8}",
        "model", "log-lik.", "BIC", "predicted", "MAE", "RMSE"
    );
    for (m, name) in v.models.iter().zip(&names) {
        let _ = writeln!(
            out,
            "  {:<11} {:>12.2} {:>12.2} {:>10.1} {:>8.4} {:>8.4}",
            name, m.log_likelihood, m.bic, m.predicted_holdout_purchases, m.mae, m.rmse
        );
    }
    let model_columns = |out: &mut String| {
        for name in &names {
            let _ = write!(out, " {name:>11}");
        }
        out.push('\n');
    };
    out.push_str("\n  mean holdout purchases by calibration frequency\n");
    let _ = write!(out, "  {:<6} {:>9} {:>8}", "freq", "customers", "actual");
    model_columns(&mut out);
    for g in 0..v.frequency_groups.len() {
        let _ = write!(
            out,
            "  {:<6} {:>9} {:>8.3}",
            v.frequency_groups[g], v.customers_by_frequency[g], v.actual_by_frequency[g]
        );
        for m in &v.models {
            let _ = write!(out, " {:>11.3}", m.predicted_by_frequency[g]);
        }
        out.push('\n');
    }
    out.push_str("\n  cumulative holdout purchases by week (every 4th week and the last; --format json has all)\n");
    let _ = write!(out, "  {:<6} {:>8}", "week", "actual");
    model_columns(&mut out);
    for k in (0..v.holdout_weeks).filter(|k| (k + 1) % 4 == 0 || k + 1 == v.holdout_weeks) {
        let _ = write!(out, "  {:<6} {:>8.0}", k + 1, v.actual_cumulative[k]);
        for m in &v.models {
            let _ = write!(out, " {:>11.1}", m.predicted_cumulative[k]);
        }
        out.push('\n');
    }
    out
}

/// An sBG projection table; `discount_label` as the user wrote the rate.
pub fn retention(rows: &[RetentionRow], unit: &str, discount_label: &str) -> String {
    let mut out = format!(
        "\n  {:>6} {:>12} {:>10} {:>10} {:>10} {:>14}\n",
        unit, "actual", "survival", "retention", "DERL", "residual value"
    );
    let or_blank =
        |x: Option<f64>, digits: usize| x.map_or(String::new(), |v| format!("{v:.digits$}"));
    for r in rows {
        let _ = writeln!(
            out,
            "  {:>6} {:>12} {:>10.4} {:>10} {:>10.3} {:>14}",
            r.period,
            or_blank(r.actual, 4),
            r.survival,
            or_blank(r.retention, 4),
            r.discounted_residual_lifetime,
            or_blank(r.residual_value, 2),
        );
    }
    let _ = writeln!(
        out,
        "\n  survival: share of the cohort still subscribed after each period (actual: the curve given);\n  retention: share of last period's subscribers who renewed; DERL: discounted expected\n  renewals still to come for a subscriber at that tenure ({discount_label}/period); residual value = price × DERL."
    );
    out
}

/// One customer's profile; `labels` and `model` say what the predictions are.
pub fn profile(p: &Profile<'_>, labels: &Labels<'_>, model: &str) -> String {
    let (horizon_label, discount_label) = (labels.horizon, labels.discount);
    let mut out = format!("Customer {}\n", p.customer_id);
    let _ = writeln!(
        out,
        "  history      first purchase {}, last {} ({} days before {}); {} orders on {} days; net revenue {:.2}",
        format_date(p.first_purchase),
        format_date(p.last_purchase),
        p.recency_days,
        format_date(p.as_of),
        p.orders,
        p.purchase_days,
        p.revenue
    );
    let _ = match p.gaps {
        None => writeln!(out, "  usual gap    one purchase day so far: no gap yet"),
        Some(g) => writeln!(
            out,
            "  usual gap    {} days between purchases (median of {} gaps; shortest {}, longest {})",
            g.median, g.count, g.shortest, g.longest
        ),
    };
    let (s, rule) = (p.score, p.segment);
    let _ = writeln!(
        out,
        "  segment      {} (R {}, F {}, M {}): {}",
        rule.segment, s.r, s.f, s.m, rule.action
    );
    let _ = writeln!(out, "  tier         {} by predicted CLV", p.tier);
    let _ = writeln!(
        out,
        "  predictions  next {horizon_label}, {model} model, {discount_label} a year:"
    );
    let q = &p.predictions;
    let line = |label: &str, e: &Predicted| {
        let interval = e.interval.map_or(String::new(), |(lo, hi)| {
            format!(" (90%: {lo:.4} … {hi:.4})")
        });
        format!("    {label:<26}{:.4}{interval}\n", e.value)
    };
    out.push_str(&line("P(alive)", &q.p_alive));
    out.push_str(&line("expected purchases", &q.expected_purchases));
    for (label, value) in [
        ("expected spend per order", &q.expected_spend),
        ("predicted CLV", &q.predicted_clv),
    ] {
        match value {
            Some(e) => out.push_str(&line(label, e)),
            None => {
                let _ = writeln!(out, "    {label:<26}none: no spend model");
            }
        }
    }
    let _ = writeln!(
        out,
        "    {:<26}{} (the median wait if still active; P(order by then) {:.3})",
        "expected next order",
        q.next_order.map_or("not expected".into(), format_date),
        q.next_order_probability
    );
    match &p.favourites {
        Some(list) => {
            let list: Vec<String> = list
                .iter()
                .map(|(sku, units, days)| format!("{sku} ({units} units on {days} days)"))
                .collect();
            let _ = writeln!(out, "  favourites   {}", list.join(", "));
        }
        None => out.push_str(
            "  favourites   no SKU lines for this customer (pass --sku-col if the file has them)\n",
        ),
    }
    out.push_str("  purchases    (day, net value)\n");
    for period in p.purchases.iter().take(10) {
        let _ = writeln!(
            out,
            "    {}  {:>10.2}",
            format_date(period.time),
            period.value
        );
    }
    if p.purchases.len() > 10 {
        let _ = writeln!(out, "    … {} earlier", p.purchases.len() - 10);
    }
    out
}

/// What the predictions are: horizon and discount rate as the user wrote them.
pub struct Labels<'a> {
    pub horizon: &'a str,
    pub discount: &'a str,
}

/// The purchase model behind `v`, by name.
pub fn model_name(v: &Valued<'_>) -> String {
    v.scored
        .as_ref()
        .map_or("no".to_string(), |s| s.fits.purchase_model.to_string())
}

/// `clv segments`' page: the segments, the value tiers and the `top` valuable customers most at
/// risk (or why there are no tiers).
pub fn segments(v: &Valued<'_>, as_of: i64, labels: &Labels<'_>, top: usize) -> String {
    let mut out = format!(
        "RFM segments of {} customers as of {} (recency: days since the last purchase; frequency: purchase days; monetary: net revenue; scores 1–5 by quintile)\n",
        thousands(v.rows.len() as u64),
        format_date(as_of)
    );
    out.push_str(&tables::segment_summary(v).render_text(usize::MAX));
    if let Some(why) = v.why_no_value() {
        let _ = writeln!(out, "\nValue tiers need predicted CLV, and {why}");
        return out;
    }
    let _ = writeln!(
        out,
        "\nValue tiers by predicted CLV (next {}, {} a year, {} model):",
        labels.horizon,
        labels.discount,
        model_name(v)
    );
    out.push_str(&tables::tier_summary(v).render_text(usize::MAX));
    let at_risk = v.at_risk();
    let _ = writeln!(
        out,
        "\nValuable customers most at risk ({} of them: CLV if still active in the top {}%, P(alive) < 0.5), by value at risk = (1 − P(alive)) × CLV if active:",
        thousands(at_risk.len() as u64),
        v.valuable_share() * 100.0
    );
    let shown = &at_risk[..at_risk.len().min(top)];
    out.push_str(&tables::at_risk_table(v, shown).render_text(usize::MAX));
    out.push_str(AT_RISK_SEGMENTS);
    out
}

/// Why an RFM champion can be at risk.
const AT_RISK_SEGMENTS: &str = "(a segment ranks recency against other customers; P(alive) weighs it against the customer's own pace, so a frequent buyer silent for months can be a champion at risk)\n";

/// `clv replenish`'s page: the products with the best-evidenced cycles, then the heading of the
/// reminders (which follow as the command's table).
pub fn replenish(products: &ProductLog, p: &Plan) -> String {
    let by_evidence = tables::by_evidence(&p.cycles);
    let o = p.options;
    let as_of = format_date(o.as_of_day as i64 * clv_data::time::DAY);
    let mut out = format!(
        "{} of {} SKUs have a repeat-purchase cycle (at least {} repeat purchases by the same customer); as of {as_of}\n",
        thousands(by_evidence.len() as u64),
        thousands(products.skus.len() as u64),
        o.min_repeats,
    );
    let top = &by_evidence[..by_evidence.len().min(10)];
    out.push_str(&tables::cycle_table(products, &p.cycles, top).render_text(usize::MAX));
    let _ = writeln!(
        out,
        "\n{} reminders to send from {as_of} for {} days ({} days before each purchase is due; customers who re-ordered are due a cycle after their last purchase; a cycle is the product's, pooled across its customers){}:",
        thousands(p.reminders.len() as u64),
        o.window_days,
        o.lead_days,
        match (p.held_back, o.per_customer) {
            (0, _) => String::new(),
            (held, cap) => format!(
                "; {} more held back to keep each customer to {cap} (their most-bought products first; --per-customer)",
                thousands(held as u64)
            ),
        }
    );
    out
}

/// `clv cross-sell`'s page: counts, the strongest rules and the bundle candidates.
pub fn cross_sell(products: &ProductLog, t: &Together) -> String {
    let single = (0..t.baskets.len())
        .filter(|&b| t.baskets.basket(b).len() == 1)
        .count();
    let th = t.thresholds;
    let mut out = format!(
        "{} baskets ({} of a single product, which count in every support but form no pair); {} frequent pairs and {} triples at support ≥ {}; {} rules with confidence ≥ {} and lift ≥ {}\n",
        thousands(t.baskets.len() as u64),
        thousands(single as u64),
        thousands(t.frequent.pairs.len() as u64),
        thousands(t.frequent.triples.len() as u64),
        th.min_support,
        thousands(t.rules.len() as u64),
        th.min_confidence,
        th.min_lift
    );
    out.push_str("\nStrongest rules (by lift):\n");
    let strongest = &t.rules[..t.rules.len().min(10)];
    out.push_str(&tables::rules_table(products, strongest).render_text(usize::MAX));
    out.push_str(
        "\nBundle candidates (most frequent sets bought together more often than by chance):\n",
    );
    let bundles = basket::bundles(&t.frequent, 10);
    out.push_str(&tables::bundle_table(products, &t.frequent, &bundles).render_text(usize::MAX));
    out
}
