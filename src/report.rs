//! `clv report`: one self-contained HTML page from the same computations as `clv metrics`,
//! `clv segments`, `clv score`, `clv validate`, `clv replenish` and `clv cross-sell`, aggregated
//! (no per-customer dump) so it stays small at a million customers.

use crate::cli::{self, ReportArgs};
use crate::input::{load, thousands};
use crate::modeling::{model_name, purchase_predictor};
use anyhow::{Context, Result};
use clv_data::time::{format_date, parse_days, DAY};
use clv_data::{Period, TimeUnit, Values};
use clv_report::{number, Bars, Block, Heatmap, Lines, Report, Section};
use clv_segments::{basket, replenish, tiers};
use clv_summary::metrics::{shop_metrics, MetricsOptions};
use serde_json::json;

pub fn report(args: &ReportArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (histories, products) = crate::segments::load_with_products(&args.input, true)?;
    let window = parse_days(&args.window).map_err(anyhow::Error::msg)?;
    let metrics = shop_metrics(
        &histories,
        MetricsOptions {
            window_days: window.round().max(1.0) as u32,
            cac: args.cac,
        },
    );
    // Intervals: the top-customer tables show the CLV interval.
    let v = crate::segments::value(
        &histories,
        &args.input,
        &args.valuation,
        crate::cli::Intervals::Delta,
    )?;
    let validation = match &args.calibration_end {
        Some(c) => {
            let h = load(&args.input, Period::Day, Some(c))?;
            let kinds = crate::modeling::PURCHASE_KINDS;
            Some(crate::validate::validation(&h, TimeUnit::Week, &kinds, 0.0)?.0)
        }
        None => None,
    };
    let as_of = format_date(histories.main_end());
    let mut data = serde_json::Map::new();
    let mut sections = Vec::new();

    // Headline numbers.
    let money = |x: f64| number(x, 2);
    let period = format!("{} – {}", metrics.first_order, metrics.observation_end);
    let mut headline = vec![
        (
            "customers".into(),
            number(metrics.customers as f64, 0),
            period.clone(),
        ),
        (
            "orders".into(),
            number(metrics.orders as f64, 0),
            period.clone(),
        ),
        (
            "net revenue".into(),
            money(metrics.revenue),
            format!("currency of the data, {period}"),
        ),
        (
            "average order value".into(),
            metrics.average_order_value.map_or("–".into(), money),
            "net revenue / orders".into(),
        ),
        (
            "purchase frequency".into(),
            number(metrics.purchase_frequency, 2),
            "orders per customer".into(),
        ),
        (
            "repeat-purchase rate".into(),
            format!("{}%", number(100.0 * metrics.repeat_purchase_rate, 1)),
            "customers with 2+ orders".into(),
        ),
        (
            "retention rate".into(),
            metrics
                .retention
                .retention_rate
                .map_or("–".into(), |r| format!("{}%", number(100.0 * r, 1))),
            format!(
                "active in {} – {} and again in {} – {}",
                metrics.retention.previous_window[0],
                metrics.retention.previous_window[1],
                metrics.retention.current_window[0],
                metrics.retention.current_window[1]
            ),
        ),
        (
            "mean historic CLV".into(),
            money(metrics.historic_clv.mean),
            "net revenue per customer so far".into(),
        ),
    ];
    let predicted = v.float("predicted_clv");
    if !predicted.is_empty() {
        headline.push((
            "predicted CLV, all customers".into(),
            money(predicted.iter().sum()),
            format!(
                "next {}, discounted at {} a year",
                args.valuation.horizon, args.valuation.discount_rate
            ),
        ));
    }
    if let Some(l) = &metrics.ltv_to_cac {
        headline.push((
            "LTV:CAC".into(),
            number(l.ratio, 2),
            format!("CAC {}", money(l.cac)),
        ));
    }
    data.insert("metrics".into(), serde_json::to_value(&metrics)?);
    sections.push(Section {
        id: "headline".into(),
        title: "Headline numbers".into(),
        explanation: format!(
            "The shop as of {as_of}. Revenue is net of refunds; an order is counted once however many lines it has."
        ),
        blocks: vec![Block::Metrics(headline)],
    });

    // Cohort retention.
    let cohorts = &metrics.cohorts;
    let months = cohorts.iter().map(|c| c.retention.len()).max().unwrap_or(0);
    sections.push(Section {
        id: "cohorts".into(),
        title: "Cohort retention".into(),
        explanation: "Customers grouped by the month of their first order; each cell is the share of the group who ordered again in that month after it. Reading across a row shows how quickly a cohort fades; reading down a column compares cohorts at the same age.".into(),
        blocks: vec![Block::Heatmap(Heatmap {
            title: "Share of each first-order cohort ordering, by months since the first order".into(),
            x_label: "months since first order".into(),
            y_label: "cohort (customers)".into(),
            x_labels: (0..months).map(|m| m.to_string()).collect(),
            y_labels: cohorts
                .iter()
                .map(|c| format!("{} ({})", c.month, thousands(c.customers)))
                .collect(),
            values: cohorts
                .iter()
                .map(|c| (0..months).map(|m| c.retention.get(m).copied()).collect())
                .collect(),
            percent: true,
        })],
    });

    // Segments.
    let n = v.rows.len();
    let revenue_total: f64 = v.rows.iter().map(|r| r.revenue).sum();
    let per_segment: Vec<(usize, f64, u64)> = v
        .segment_totals()
        .iter()
        .map(|t| (t.customers, t.revenue, t.orders))
        .collect();
    let present: Vec<usize> = (0..v.rules.len())
        .filter(|&k| per_segment[k].0 > 0)
        .collect();
    let segment_json: Vec<serde_json::Value> = present
        .iter()
        .map(|&k| {
            json!({
                "segment": v.rules[k].segment,
                "customers": per_segment[k].0,
                "revenue_share": per_segment[k].1 / revenue_total,
                "average_order_value": per_segment[k].1 / per_segment[k].2 as f64,
                "action": v.rules[k].action,
            })
        })
        .collect();
    data.insert("segments".into(), json!(segment_json));
    sections.push(Section {
        id: "segments".into(),
        title: "RFM segments".into(),
        explanation: "Recency (days since the last order), frequency (purchase days) and monetary value (net revenue), each scored 1–5 by quintile, name the segments; each comes with what to do about it.".into(),
        blocks: vec![
            Block::Bars(Bars {
                title: "Customers per segment".into(),
                x_label: "segment".into(),
                y_label: "customers".into(),
                bars: present.iter().map(|&k| (v.rules[k].segment.clone(), per_segment[k].0 as f64)).collect(),
            }),
            Block::Table {
                columns: ["segment", "customers", "share of customers", "share of revenue", "average order value", "what to do"]
                    .map(String::from)
                    .to_vec(),
                rows: present
                    .iter()
                    .map(|&k| {
                        let (c, r, o) = per_segment[k];
                        vec![
                            v.rules[k].segment.clone(),
                            number(c as f64, 0),
                            format!("{}%", number(100.0 * c as f64 / n as f64, 1)),
                            format!("{}%", number(100.0 * r / revenue_total, 1)),
                            money(r / o as f64),
                            v.rules[k].action.clone(),
                        ]
                    })
                    .collect(),
            },
        ],
    });

    // The models.
    let horizon_days = parse_days(&args.valuation.horizon).map_err(anyhow::Error::msg)?;
    let unit: TimeUnit = args
        .valuation
        .time_unit
        .parse()
        .map_err(anyhow::Error::msg)?;
    match &v.models {
        Some([purchase, spend]) => {
            data.insert("models".into(), json!([purchase, spend]));
            let rows = [purchase, spend]
                .iter()
                .flat_map(|m| {
                    (0..m.params.len()).map(move |i| {
                        vec![
                            model_name(m.kind).to_string(),
                            m.names[i].to_string(),
                            number(m.params[i], 4),
                            format!(
                                "{} – {}",
                                number(m.lower_95[i], 4),
                                number(m.upper_95[i], 4)
                            ),
                        ]
                    })
                })
                .collect();
            let why = purchase.reason.clone().unwrap_or_else(|| {
                format!(
                    "{} as asked (--model); rates are per {unit}. Compare the models on a holdout with --calibration-end (below) or `clv validate`.",
                    model_name(purchase.kind)
                )
            });
            let mut blocks = vec![
                Block::Table {
                    columns: ["model", "parameter", "estimate", "95% interval"]
                        .map(String::from)
                        .to_vec(),
                    rows,
                },
                Block::Note(why),
            ];
            // Expected purchases and P(alive) over frequency × recency, for a customer observed as
            // long as the longest-observed one.
            let model =
                purchase_predictor(purchase.kind, &purchase.params).context("purchase model")?;
            let big_t = v.rows.iter().map(|r| r.t).fold(0.0, f64::max) / unit.days();
            let max_x = v
                .rows
                .iter()
                .map(|r| r.frequency)
                .max()
                .unwrap_or(0)
                .min(20);
            let horizon = horizon_days / unit.days();
            let steps = 12;
            let recencies: Vec<f64> = (0..=steps)
                .map(|k| big_t * k as f64 / steps as f64)
                .collect();
            let grid = |f: &dyn Fn(f64, f64) -> f64| -> Vec<Vec<Option<f64>>> {
                (0..=max_x)
                    .rev()
                    .map(|x| {
                        recencies
                            .iter()
                            .map(|&t_x| {
                                let valid = if x == 0 { t_x == 0.0 } else { t_x > 0.0 };
                                valid.then(|| f(x as f64, t_x)).filter(|v| v.is_finite())
                            })
                            .collect()
                    })
                    .collect()
            };
            let expected = grid(&|x, t_x| {
                model
                    .conditional_expected_purchases(horizon, x, t_x, big_t)
                    .unwrap_or(f64::NAN)
            });
            let alive = grid(&|x, t_x| model.p_alive(x, t_x, big_t).unwrap_or(f64::NAN));
            let x_labels: Vec<String> = recencies.iter().map(|r| number(*r, 0)).collect();
            let y_labels: Vec<String> = (0..=max_x).rev().map(|x| x.to_string()).collect();
            data.insert(
                "frequency_recency".into(),
                json!({"T": big_t, "unit": unit.to_string(), "horizon": horizon, "recency": recencies,
                       "frequency": (0..=max_x).rev().collect::<Vec<_>>(), "expected_purchases": expected, "p_alive": alive}),
            );
            for (title, values, percent) in [
                (
                    format!("Expected purchases in the next {}", args.valuation.horizon),
                    expected,
                    false,
                ),
                ("Probability still active".to_string(), alive, true),
            ] {
                blocks.push(Block::Heatmap(Heatmap {
                    title: format!(
                        "{title}, by repeat purchases and recency (customers observed {} {unit}s)",
                        number(big_t, 0)
                    ),
                    x_label: format!("recency: {unit}s from first to last purchase"),
                    y_label: "repeat purchases".into(),
                    x_labels: x_labels.clone(),
                    y_labels: y_labels.clone(),
                    values,
                    percent,
                }));
            }
            sections.push(Section {
                id: "model".into(),
                title: format!("The model: {} purchases, Gamma-Gamma spend", model_name(purchase.kind)),
                explanation: "Fitted by maximum likelihood; intervals from the observed information. The heatmaps read the model: customers who bought often and recently are worth the most; frequent buyers who stopped long ago have probably left.".into(),
                blocks,
            });
        }
        None => sections.push(Section {
            id: "model".into(),
            title: "The model".into(),
            explanation: "The purchase and spend models behind predicted CLV.".into(),
            blocks: vec![Block::Missing(format!(
                "The models could not be fitted: {}",
                v.scored.as_ref().err().cloned().unwrap_or_default()
            ))],
        }),
    }

    // Holdout.
    let holdout_blocks = match &validation {
        Some(val) => {
            data.insert("validation".into(), serde_json::to_value(val)?);
            let mut series = vec![("actual".to_string(), val.actual_by_frequency.clone())];
            series.extend(val.models.iter().map(|m| (model_name(m.model).to_string(), m.predicted_by_frequency.clone())));
            let mut tracking = vec![("actual".to_string(), val.actual_cumulative.clone())];
            tracking.extend(val.models.iter().map(|m| (model_name(m.model).to_string(), m.predicted_cumulative.clone())));
            let best = val.models.iter().min_by(|a, b| a.mae.total_cmp(&b.mae));
            vec![
                Block::Table {
                    columns: ["model", "log-likelihood", "BIC", "predicted holdout purchases", "actual", "MAE per customer", "RMSE"]
                        .map(String::from)
                        .to_vec(),
                    rows: val
                        .models
                        .iter()
                        .map(|m| {
                            vec![
                                model_name(m.model).to_string(),
                                number(m.log_likelihood, 1),
                                number(m.bic, 1),
                                number(m.predicted_holdout_purchases, 1),
                                number(val.actual_holdout_purchases as f64, 0),
                                number(m.mae, 4),
                                number(m.rmse, 4),
                            ]
                        })
                        .collect(),
                },
                Block::Note(format!(
                    "Fitted to {} and compared with the {} weeks after it. Lowest per-customer error: {}.",
                    val.calibration_end,
                    val.holdout_weeks,
                    best.map_or("–", |m| model_name(m.model))
                )),
                Block::Lines(Lines {
                    title: "Mean holdout purchases by calibration purchases".into(),
                    x_label: "repeat purchases in the calibration window (7 = 7 or more)".into(),
                    y_label: "purchases per customer in the holdout".into(),
                    x: (0..val.frequency_groups.len()).map(|k| k as f64).collect(),
                    series,
                }),
                Block::Lines(Lines {
                    title: "Cumulative repeat purchases in the holdout".into(),
                    x_label: "weeks after the calibration end".into(),
                    y_label: "purchases".into(),
                    x: (1..=val.actual_cumulative.len()).map(|k| k as f64).collect(),
                    series: tracking,
                }),
            ]
        }
        None => vec![Block::Missing(
            "No holdout: run `clv report` with --calibration-end DATE to fit the models on the orders up to DATE and compare their predictions with what happened after it.".into(),
        )],
    };
    sections.push(Section {
        id: "holdout".into(),
        title: "Calibration vs holdout".into(),
        explanation: "The honest test of a forecast: fit on the past, predict a period the model has not seen, and compare with what customers actually did.".into(),
        blocks: holdout_blocks,
    });

    // Distributions.
    let p_alive = v.float("p_alive");
    if !predicted.is_empty() {
        let mut sorted = predicted.to_vec();
        sorted.sort_by(f64::total_cmp);
        let cap = clv_summary::metrics::quantile(&sorted, 0.99).max(1e-9);
        let bins = 20;
        let mut clv_bins = vec![0.0; bins];
        for &c in predicted {
            clv_bins[((c / cap * bins as f64) as usize).min(bins - 1)] += 1.0;
        }
        let mut alive_bins = vec![0.0; 10];
        for &p in p_alive {
            alive_bins[((p * 10.0) as usize).min(9)] += 1.0;
        }
        let width = cap / bins as f64;
        data.insert(
            "distributions".into(),
            json!({"predicted_clv_bin_width": width, "predicted_clv_counts": clv_bins, "p_alive_counts": alive_bins}),
        );
        sections.push(Section {
            id: "distributions".into(),
            title: "How value and activity are spread".into(),
            explanation: "Most of the value sits with few customers: the long right tail of predicted CLV. P(alive) splits customers into those still buying and those who have probably left.".into(),
            blocks: vec![
                Block::Bars(Bars {
                    title: format!("Predicted CLV (next {}), customers per band; the last band includes the top 1%", args.valuation.horizon),
                    x_label: "predicted CLV, lower edge of the band".into(),
                    y_label: "customers".into(),
                    bars: (0..bins).map(|k| (number(k as f64 * width, 0), clv_bins[k])).collect(),
                }),
                Block::Bars(Bars {
                    title: "Probability still active, customers per band".into(),
                    x_label: "P(alive)".into(),
                    y_label: "customers".into(),
                    bars: (0..10).map(|k| (format!("{:.1}", k as f64 / 10.0), alive_bins[k])).collect(),
                }),
            ],
        });

        // Top customers and valuable customers at risk.
        let (lower, upper) = match (
            v.scored
                .as_ref()
                .ok()
                .and_then(|t| t.column("predicted_clv_lower")),
            v.scored
                .as_ref()
                .ok()
                .and_then(|t| t.column("predicted_clv_upper")),
        ) {
            (Some(Values::Float32(l)), Some(Values::Float32(u))) => (l.as_slice(), u.as_slice()),
            _ => (&[][..], &[][..]),
        };
        let mut top: Vec<usize> = (0..n).collect();
        top.sort_by(|&a, &b| predicted[b].total_cmp(&predicted[a]));
        top.truncate(10);
        let at_risk =
            tiers::valuable_at_risk(predicted, p_alive, *v.cutoffs.last().unwrap_or(&0.2), 0.5);
        let customer_row = |i: usize| {
            vec![
                v.rows[i].customer_id.to_string(),
                v.rules[v.segment[i]].segment.clone(),
                number(p_alive[i], 3),
                money(predicted[i]),
                lower.get(i).zip(upper.get(i)).map_or("–".into(), |(l, u)| {
                    format!("{} – {}", money(*l as f64), money(*u as f64))
                }),
                money(v.rows[i].revenue),
                format_date(v.rows[i].last_purchase),
            ]
        };
        let columns: Vec<String> = [
            "customer",
            "segment",
            "P(alive)",
            "predicted CLV",
            "90% interval",
            "historic CLV",
            "last purchase",
        ]
        .map(String::from)
        .to_vec();
        data.insert(
            "top_customers".into(),
            json!(top.iter().map(|&i| json!({"customer_id": v.rows[i].customer_id, "predicted_clv": predicted[i], "p_alive": p_alive[i]})).collect::<Vec<_>>()),
        );
        data.insert(
            "valuable_at_risk".into(),
            json!(at_risk.iter().take(10).map(|&(i, r)| json!({"customer_id": v.rows[i].customer_id, "value_at_risk": r, "p_alive": p_alive[i]})).collect::<Vec<_>>()),
        );
        sections.push(Section {
            id: "customers".into(),
            title: "Top customers and valuable customers at risk".into(),
            explanation: format!(
                "The ten customers worth most over the next {}, and the valuable customers most likely lost: worth a lot if still active (top {}%), P(alive) below 0.5, ranked by value at risk = (1 − P(alive)) × CLV if active. {} customers qualify.",
                args.valuation.horizon,
                v.cutoffs.last().unwrap_or(&0.2) * 100.0,
                thousands(at_risk.len() as u64)
            ),
            blocks: vec![
                Block::Table { columns: columns.clone(), rows: top.iter().map(|&i| customer_row(i)).collect() },
                Block::Table { columns, rows: at_risk.iter().take(10).map(|&(i, _)| customer_row(i)).collect() },
            ],
        });
    } else {
        let why = "Predicted CLV and P(alive) need the purchase and spend models, which could not be fitted on this data (see The model).";
        for (id, title) in [
            ("distributions", "How value and activity are spread"),
            ("customers", "Top customers and valuable customers at risk"),
        ] {
            sections.push(Section {
                id: id.into(),
                title: title.into(),
                explanation: String::new(),
                blocks: vec![Block::Missing(why.into())],
            });
        }
    }

    // Products.
    let no_skus = "This file has no SKU column, so there are no product-level views; pass --sku-col (and --order-col) with an order-line export.";
    let (replenish_blocks, rules_blocks) = if products.lines.is_empty() {
        (
            vec![Block::Missing(no_skus.into())],
            vec![Block::Missing(no_skus.into())],
        )
    } else {
        let repeats = products.repeats();
        let groups = || repeats.iter();
        let cycles = replenish::cycles(groups(), products.skus.len(), cli::MIN_REPEATS);
        let as_of_day = histories.main_end().div_euclid(DAY) as i32;
        let days = |text: &str| parse_days(text).expect("a valid default").round() as i32;
        let (window, lead) = (days(cli::REMINDER_WINDOW), days(cli::REMINDER_LEAD_TIME));
        let reminders = replenish::reminders(groups(), &cycles, as_of_day, window, lead);
        data.insert(
            format!("reminders_next_{window}_days"),
            json!(reminders.len()),
        );
        let mut with_cycle: Vec<usize> =
            (0..cycles.len()).filter(|&k| cycles[k].is_some()).collect();
        with_cycle.sort_by_key(|&k| std::cmp::Reverse(cycles[k].as_ref().map_or(0, |c| c.gaps)));
        let replenish_blocks = vec![
            Block::Table {
                columns: ["product", "median gap (days)", "quartiles (days)", "repeat purchases", "customers"].map(String::from).to_vec(),
                rows: with_cycle
                    .iter()
                    .take(10)
                    .map(|&k| {
                        let c = cycles[k].as_ref().expect("with a cycle");
                        vec![
                            products.skus.name(k as u32).to_string(),
                            number(c.median, 1),
                            format!("{} – {}", number(c.lower_quartile, 1), number(c.upper_quartile, 1)),
                            number(c.gaps as f64, 0),
                            number(c.customers as f64, 0),
                        ]
                    })
                    .collect(),
            },
            Block::Note(format!(
                "{} reminders are due in the {window} days from {as_of} ({lead} days before each purchase is due); the first ten:",
                thousands(reminders.len() as u64)
            )),
            Block::Table {
                columns: ["customer", "product", "last purchase", "due", "remind on"].map(String::from).to_vec(),
                rows: reminders
                    .iter()
                    .take(10)
                    .map(|r| {
                        vec![
                            products.customers.name(r.customer).to_string(),
                            products.skus.name(r.item).to_string(),
                            format_date(r.last as i64 * DAY),
                            format_date(r.due as i64 * DAY),
                            format_date(r.remind_on as i64 * DAY),
                        ]
                    })
                    .collect(),
            },
        ];
        let baskets = basket::Baskets::from_pairs(products.basket_pairs());
        let frequent = basket::frequent(&baskets, cli::MIN_SUPPORT, 3);
        let rules = basket::rules(&frequent, cli::MIN_CONFIDENCE, cli::MIN_LIFT);
        let names = |items: &[u32]| {
            items
                .iter()
                .map(|&i| products.skus.name(i))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        data.insert("rules".into(), json!(rules.iter().take(10).map(|r| json!({"antecedent": names(&r.antecedent), "consequent": names(&r.consequent), "support": r.support, "confidence": r.confidence, "lift": r.lift})).collect::<Vec<_>>()));
        let rules_blocks = vec![
            Block::Note(format!(
                "{} baskets; {} rules at support ≥ {}%, confidence ≥ {}%, lift ≥ {}. The strongest by lift:",
                thousands(baskets.len() as u64),
                thousands(rules.len() as u64),
                100.0 * cli::MIN_SUPPORT,
                100.0 * cli::MIN_CONFIDENCE,
                cli::MIN_LIFT
            )),
            Block::Table {
                columns: ["customers who buy", "also buy", "support", "confidence", "lift"].map(String::from).to_vec(),
                rows: rules
                    .iter()
                    .take(10)
                    .map(|r| {
                        vec![
                            names(&r.antecedent),
                            names(&r.consequent),
                            format!("{}%", number(100.0 * r.support, 2)),
                            format!("{}%", number(100.0 * r.confidence, 1)),
                            number(r.lift, 2),
                        ]
                    })
                    .collect(),
            },
        ];
        (replenish_blocks, rules_blocks)
    };
    sections.push(Section {
        id: "replenishment".into(),
        title: "Replenishment reminders due soon".into(),
        explanation: "How long customers take to buy the same product again (median gap over all customers' repeat purchases, with its spread), and who is due now.".into(),
        blocks: replenish_blocks,
    });
    sections.push(Section {
        id: "cross-sell".into(),
        title: "Products bought together".into(),
        explanation: "Support: share of baskets holding the products; confidence: share of baskets with the first that also hold the second; lift: how many times more often than if they were bought independently.".into(),
        blocks: rules_blocks,
    });

    let report = Report {
        title: "Customer value report".into(),
        subtitle: format!(
            "{} · {} customers · {} · predictions for the next {} at {} a year",
            args.input.orders.display(),
            thousands(n as u64),
            period,
            args.valuation.horizon,
            args.valuation.discount_rate
        ),
        sections,
        data: serde_json::Value::Object(data),
    };
    let html = clv_report::render(&report);
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "wrote the report to {} ({} KB) in {:.2} s",
        args.output.display(),
        thousands(html.len() as u64 / 1024),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
