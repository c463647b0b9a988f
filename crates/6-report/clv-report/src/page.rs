//! The report page: a [`ReportView`] laid out as sections of metrics, tables and charts, with the
//! embedded JSON that checks and scripts read.

use crate::html::{number, Bars, Block, Heatmap, Lines, Report, Section};
use crate::view::{
    CustomerRow, ModelsView, ProductsView, ReportView, MIN_CONFIDENCE, MIN_LIFT, MIN_SUPPORT,
    REMINDER_LEAD_DAYS, REMINDER_WINDOW_DAYS,
};
use clv_data::thousands;
use clv_score::Validation;
use clv_summary::ShopMetrics;
use serde_json::json;

fn money(x: f64) -> String {
    number(x, 2)
}

fn strings<const N: usize>(names: [&str; N]) -> Vec<String> {
    names.map(String::from).to_vec()
}

fn headline(v: &ReportView) -> Section {
    let m = &v.metrics;
    let period = format!("{} – {}", m.first_order, m.observation_end);
    let mut rows = vec![
        (
            "customers".into(),
            number(m.customers as f64, 0),
            period.clone(),
        ),
        ("orders".into(), number(m.orders as f64, 0), period.clone()),
        (
            "net revenue".into(),
            money(m.revenue),
            match &v.currency {
                Some(code) => format!("in {code}, {period}"),
                None => format!("currency of the data, {period}"),
            },
        ),
        (
            "average order value".into(),
            m.average_order_value.map_or("–".into(), money),
            "net revenue / orders".into(),
        ),
        (
            "purchase frequency".into(),
            number(m.purchase_frequency, 2),
            "orders per customer".into(),
        ),
        (
            "repeat-purchase rate".into(),
            format!("{}%", number(100.0 * m.repeat_purchase_rate, 1)),
            "customers with 2+ orders".into(),
        ),
        (
            "retention rate".into(),
            m.retention
                .retention_rate
                .map_or("–".into(), |r| format!("{}%", number(100.0 * r, 1))),
            format!(
                "active in {} – {} and again in {} – {}",
                m.retention.previous_window[0],
                m.retention.previous_window[1],
                m.retention.current_window[0],
                m.retention.current_window[1]
            ),
        ),
        (
            "mean historic CLV".into(),
            money(m.historic_clv.mean),
            "net revenue per customer so far".into(),
        ),
    ];
    if let Some(total) = v.predicted_clv_total {
        rows.push((
            "predicted CLV, all customers".into(),
            money(total),
            format!(
                "next {}, discounted at {} a year",
                v.horizon_label, v.discount_label
            ),
        ));
    }
    if let Some(l) = &m.ltv_to_cac {
        rows.push((
            "LTV:CAC".into(),
            number(l.ratio, 2),
            format!("CAC {}", money(l.cac)),
        ));
    }
    Section {
        id: "headline".into(),
        title: "Headline numbers".into(),
        explanation: format!(
            "The shop as of {}. Revenue is net of refunds; an order is counted once however many lines it has.",
            v.as_of
        ),
        blocks: vec![Block::Metrics(rows)],
    }
}

fn cohorts(v: &ReportView) -> Section {
    let (heatmap, period) = cohort_heatmap(&v.metrics);
    Section {
        id: "cohorts".into(),
        title: "Cohort retention".into(),
        explanation: format!("Customers grouped by the {period} of their first order; each cell is the share of the group who ordered again in that {period} after it. Reading across a row shows how quickly a cohort fades; reading down a column compares cohorts at the same age.{}", if period == "quarter" { " The data span more than two years, so cohorts are quarters (the monthly cohorts are in the metrics)." } else { "" }),
        blocks: vec![heatmap],
    }
}

/// The cohort retention heatmap of `m`, and whether its cohorts are months or quarters: past
/// two years of months, quarters (a 72 × 72 grid of cells is an unreadable strip).
pub fn cohort_heatmap(m: &ShopMetrics) -> (Block, &'static str) {
    let (cohorts, period) = match &m.cohorts_by_quarter {
        Some(quarterly) => (quarterly, "quarter"),
        None => (&m.cohorts, "month"),
    };
    let months = cohorts.iter().map(|c| c.retention.len()).max().unwrap_or(0);
    let heatmap = Block::Heatmap(Heatmap {
        title: format!(
            "Share of each first-order cohort ordering, by {period}s since the first order"
        ),
        x_label: format!("{period}s since first order"),
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
    });
    (heatmap, period)
}

fn segments(v: &ReportView) -> Section {
    let n = v.customers as f64;
    Section {
        id: "segments".into(),
        title: "RFM segments".into(),
        explanation: "Recency (days since the last order), frequency (purchase days) and monetary value (net revenue), each scored 1–5 by quintile, name the segments; each comes with what to do about it.".into(),
        blocks: vec![
            Block::Bars(Bars {
                title: "Customers per segment".into(),
                x_label: "segment".into(),
                y_label: "customers".into(),
                bars: v.segments.iter().map(|s| (s.segment.clone(), s.customers as f64)).collect(),
            }),
            Block::Table {
                columns: strings(["segment", "customers", "share of customers", "share of revenue", "average order value", "mean P(alive)", "what to do"]),
                rows: v
                    .segments
                    .iter()
                    .map(|s| {
                        vec![
                            s.segment.clone(),
                            number(s.customers as f64, 0),
                            format!("{}%", number(100.0 * s.customers as f64 / n, 1)),
                            format!("{}%", number(100.0 * s.revenue_share, 1)),
                            money(s.average_order_value),
                            s.mean_p_alive.map_or("–".into(), |p| number(p, 3)),
                            s.action.clone(),
                        ]
                    })
                    .collect(),
            },
        ],
    }
}

fn model(v: &ReportView, m: &ModelsView) -> Section {
    let purchase = &m.purchase;
    let unit = &m.unit;
    let rows = std::iter::once(purchase)
        .chain(&m.spend)
        .flat_map(|e| {
            (0..e.params.len()).map(move |i| {
                vec![
                    e.kind.display_name().to_string(),
                    e.names[i].to_string(),
                    number(e.params[i], 4),
                    format!(
                        "{} – {}",
                        number(e.lower_95[i], 4),
                        number(e.upper_95[i], 4)
                    ),
                ]
            })
        })
        .collect();
    let why = purchase.reason.clone().unwrap_or_else(|| {
        format!(
            "{} as asked (--model); rates are per {unit}. Compare the models on a holdout with --calibration-end (below) or `clv validate`.",
            purchase.kind
        )
    });
    let mut blocks = vec![
        Block::Table {
            columns: strings(["model", "parameter", "estimate", "95% interval"]),
            rows,
        },
        Block::Note(why),
    ];
    let g = &m.frequency_recency;
    let x_labels: Vec<String> = g.recency.iter().map(|r| number(*r, 0)).collect();
    let y_labels: Vec<String> = g.frequency.iter().map(|x| x.to_string()).collect();
    for (title, values, percent) in [
        (
            format!("Expected purchases in the next {}", v.horizon_label),
            &g.expected_purchases,
            false,
        ),
        ("Probability still active".to_string(), &g.p_alive, true),
    ] {
        blocks.push(Block::Heatmap(Heatmap {
            title: format!(
                "{title}, by repeat purchases and recency (customers observed {} {unit}s)",
                number(g.big_t, 0)
            ),
            x_label: format!("recency: {unit}s from first to last purchase"),
            y_label: "repeat purchases".into(),
            x_labels: x_labels.clone(),
            y_labels: y_labels.clone(),
            values: values.clone(),
            percent,
        }));
    }
    Section {
        id: "model".into(),
        title: match &m.spend {
            Some(_) => format!("The model: {} purchases, Gamma-Gamma spend", purchase.kind),
            None => format!("The model: {} purchases, no spend model", purchase.kind),
        },
        explanation: "Fitted by maximum likelihood; intervals from the observed information. The heatmaps read the model: customers who bought often and recently are worth the most; frequent buyers who stopped long ago have probably left.".into(),
        blocks,
    }
}

fn holdout(val: Option<&Validation>) -> Section {
    let blocks = match val {
        Some(val) => {
            let name = |m: &clv_score::ModelValidation| m.model.to_string();
            let mut series = vec![("actual".to_string(), val.actual_by_frequency.clone())];
            series.extend(val.models.iter().map(|m| (name(m), m.predicted_by_frequency.clone())));
            let mut tracking = vec![("actual".to_string(), val.actual_cumulative.clone())];
            tracking.extend(val.models.iter().map(|m| (name(m), m.predicted_cumulative.clone())));
            let best = val.models.iter().min_by(|a, b| a.mae.total_cmp(&b.mae));
            vec![
                Block::Table {
                    columns: strings(["model", "log-likelihood", "BIC", "predicted holdout purchases", "actual", "MAE per customer", "RMSE"]),
                    rows: val
                        .models
                        .iter()
                        .map(|m| {
                            vec![
                                name(m),
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
                    best.map_or("–".to_string(), name)
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
    Section {
        id: "holdout".into(),
        title: "Calibration vs holdout".into(),
        explanation: "The honest test of a forecast: fit on the past, predict a period the model has not seen, and compare with what customers actually did.".into(),
        blocks,
    }
}

fn value_sections(v: &ReportView) -> [Section; 2] {
    let titles = [
        ("distributions", "How value and activity are spread"),
        ("customers", "Top customers and valuable customers at risk"),
    ];
    let (Some(d), Some(c)) = (&v.distributions, &v.top_customers) else {
        let why = format!(
            "Predicted CLV needs a purchase and a spend model, and {} (see The model).",
            v.why_no_value
                .as_deref()
                .unwrap_or("they could not be fitted on this data")
        );
        return titles.map(|(id, title)| Section {
            id: id.into(),
            title: title.into(),
            explanation: String::new(),
            blocks: vec![Block::Missing(why.clone())],
        });
    };
    let bins = d.predicted_clv_counts.len();
    let width = d.predicted_clv_bin_width;
    let distributions = Section {
        id: "distributions".into(),
        title: titles[0].1.into(),
        explanation: "Most of the value sits with few customers: the long right tail of predicted CLV. P(alive) splits customers into those still buying and those who have probably left.".into(),
        blocks: vec![
            Block::Bars(Bars {
                title: format!("Predicted CLV (next {}), customers per band; the last band includes the top 1%", v.horizon_label),
                x_label: "predicted CLV, lower edge of the band".into(),
                y_label: "customers".into(),
                bars: (0..bins).map(|k| (number(k as f64 * width, 0), d.predicted_clv_counts[k])).collect(),
            }),
            Block::Bars(Bars {
                title: "Probability still active, customers per band".into(),
                x_label: "P(alive)".into(),
                y_label: "customers".into(),
                bars: (0..10).map(|k| (format!("{:.1}", k as f64 / 10.0), d.p_alive_counts[k])).collect(),
            }),
        ],
    };
    let row = |r: &CustomerRow| {
        vec![
            r.customer_id.clone(),
            r.segment.clone(),
            number(r.p_alive, 3),
            money(r.predicted_clv),
            r.interval.map_or("–".into(), |(l, u)| {
                format!("{} – {}", money(l as f64), money(u as f64))
            }),
            money(r.historic_clv),
            r.last_purchase.clone(),
        ]
    };
    let columns = strings([
        "customer",
        "segment",
        "P(alive)",
        "predicted CLV",
        "90% interval",
        "historic CLV",
        "last purchase",
    ]);
    let at_risk_row = |r: &CustomerRow| {
        vec![
            r.customer_id.clone(),
            r.segment.clone(),
            number(r.p_alive, 3),
            r.clv_if_active.map_or("–".into(), money),
            r.value_at_risk.map_or("–".into(), money),
            money(r.historic_clv),
            r.last_purchase.clone(),
        ]
    };
    let at_risk_columns = strings([
        "customer",
        "segment",
        "P(alive)",
        "CLV if active",
        "value at risk",
        "historic CLV",
        "last purchase",
    ]);
    let customers = Section {
        id: "customers".into(),
        title: titles[1].1.into(),
        explanation: format!(
            "The ten customers worth most over the next {}, and the valuable customers most likely lost: worth a lot if still active (top {}%), P(alive) below 0.5, ranked by value at risk = (1 − P(alive)) × CLV if active. {} customers qualify. A segment ranks recency against other customers; P(alive) weighs it against the customer's own pace, so a frequent buyer silent for months can be a champion at risk.",
            v.horizon_label,
            c.valuable_share * 100.0,
            thousands(c.at_risk_count as u64)
        ),
        blocks: vec![
            Block::Table { columns, rows: c.top.iter().map(row).collect() },
            // The terminal's at-risk columns: a lost customer's predicted CLV is near 0, what
            // is at stake is the CLV if still active.
            Block::Table { columns: at_risk_columns, rows: c.at_risk.iter().map(at_risk_row).collect() },
        ],
    };
    [distributions, customers]
}

fn product_sections(p: Option<&ProductsView>, as_of: &str) -> [Section; 2] {
    let no_skus = "This file has no SKU column, so there are no product-level views; pass --sku-col (and --order-col) with an order-line export.";
    let (replenish_blocks, rules_blocks) = match p {
        None => (
            vec![Block::Missing(no_skus.into())],
            vec![Block::Missing(no_skus.into())],
        ),
        Some(p) => {
            let (window, lead) = (REMINDER_WINDOW_DAYS, REMINDER_LEAD_DAYS);
            let replenish = vec![
                Block::Table {
                    columns: strings(["product", "median gap (days)", "quartiles (days)", "repeat purchases", "customers"]),
                    rows: p
                        .cycles
                        .iter()
                        .map(|c| {
                            vec![
                                c.product.clone(),
                                number(c.median_days, 1),
                                format!("{} – {}", number(c.lower_quartile_days, 1), number(c.upper_quartile_days, 1)),
                                number(c.repeat_purchases as f64, 0),
                                number(c.customers as f64, 0),
                            ]
                        })
                        .collect(),
                },
                Block::Note(format!(
                    "A cycle is the product's: the gaps between repeat purchases, pooled across its customers. {} reminders are due in the {window} days from {as_of} ({lead} days before each purchase is due, at most {} per customer{}); the first ten:",
                    thousands(p.reminders_due as u64),
                    crate::view::REMINDERS_PER_CUSTOMER,
                    if p.reminders_held_back > 0 { format!(", {} more held back by that cap", thousands(p.reminders_held_back as u64)) } else { String::new() }
                )),
                Block::Table {
                    columns: strings(["customer", "product", "last purchase", "due", "remind on"]),
                    rows: p
                        .reminders
                        .iter()
                        .map(|r| vec![r.customer_id.clone(), r.product.clone(), r.last_purchase.clone(), r.due.clone(), r.remind_on.clone()])
                        .collect(),
                },
            ];
            let rules = vec![
                Block::Note(format!(
                    "{} baskets; {} rules at support ≥ {}%, confidence ≥ {}%, lift ≥ {}. The strongest by lift:",
                    thousands(p.baskets as u64),
                    thousands(p.rules_found as u64),
                    100.0 * MIN_SUPPORT,
                    100.0 * MIN_CONFIDENCE,
                    MIN_LIFT
                )),
                Block::Table {
                    columns: strings(["customers who buy", "also buy", "support", "confidence", "lift"]),
                    rows: p
                        .rules
                        .iter()
                        .map(|r| {
                            vec![
                                r.antecedent.clone(),
                                r.consequent.clone(),
                                format!("{}%", number(100.0 * r.support, 2)),
                                format!("{}%", number(100.0 * r.confidence, 1)),
                                number(r.lift, 2),
                            ]
                        })
                        .collect(),
                },
            ];
            (replenish, rules)
        }
    };
    [
        Section {
            id: "replenishment".into(),
            title: "Replenishment reminders due soon".into(),
            explanation: "How long customers take to buy the same product again (median gap over all customers' repeat purchases, with its spread), and who is due now.".into(),
            blocks: replenish_blocks,
        },
        Section {
            id: "cross-sell".into(),
            title: "Products bought together".into(),
            explanation: "Support: share of baskets holding the products; confidence: share of baskets with the first that also hold the second; lift: how many times more often than if they were bought independently.".into(),
            blocks: rules_blocks,
        },
    ]
}

/// The embedded JSON: every number shown, under the keys checks and scripts read.
pub fn data(v: &ReportView) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    let mut put = |key: &str, value: serde_json::Value| {
        data.insert(key.to_string(), value);
    };
    put("metrics", json!(v.metrics));
    put("segments", json!(v.segments));
    if let Some(m) = &v.models {
        let models: Vec<_> = std::iter::once(&m.purchase).chain(&m.spend).collect();
        put("models", json!(models));
        put("frequency_recency", json!(m.frequency_recency));
    }
    if let Some(val) = &v.validation {
        put("validation", json!(val));
    }
    if let (Some(d), Some(c)) = (&v.distributions, &v.top_customers) {
        put("distributions", json!(d));
        put(
            "top_customers",
            json!(c.top.iter().map(|r| json!({"customer_id": r.customer_id, "predicted_clv": r.predicted_clv, "p_alive": r.p_alive})).collect::<Vec<_>>()),
        );
        put(
            "valuable_at_risk",
            json!(c.at_risk.iter().map(|r| json!({"customer_id": r.customer_id, "value_at_risk": r.value_at_risk, "p_alive": r.p_alive})).collect::<Vec<_>>()),
        );
    }
    if let Some(p) = &v.products {
        put(
            &format!("reminders_next_{REMINDER_WINDOW_DAYS}_days"),
            json!(p.reminders_due),
        );
        put(
            "rules",
            json!(p.rules.iter().map(|r| json!({"antecedent": r.antecedent, "consequent": r.consequent, "support": r.support, "confidence": r.confidence, "lift": r.lift})).collect::<Vec<_>>()),
        );
    }
    serde_json::Value::Object(data)
}

/// The report page of `v`.
pub fn page(v: &ReportView) -> Report {
    let mut sections = vec![headline(v), cohorts(v), segments(v)];
    sections.push(match &v.models {
        Some(m) => model(v, m),
        None => Section {
            id: "model".into(),
            title: "The model".into(),
            explanation: "The purchase and spend models behind predicted CLV.".into(),
            blocks: vec![Block::Missing(format!(
                "The models could not be fitted: {}",
                v.why_no_models.clone().unwrap_or_default()
            ))],
        },
    });
    sections.push(holdout(v.validation.as_ref()));
    sections.extend(value_sections(v));
    sections.extend(product_sections(v.products.as_ref(), &v.as_of));
    let m = &v.metrics;
    Report {
        title: "Customer value report".into(),
        subtitle: format!(
            "{} · {} customers · {} – {} · predictions for the next {} at {} a year{}",
            v.source,
            thousands(v.customers as u64),
            m.first_order,
            m.observation_end,
            v.horizon_label,
            v.discount_label,
            v.currency
                .as_ref()
                .map_or(String::new(), |c| format!(" · amounts in {c}"))
        ),
        sections,
        data: data(v),
    }
}
