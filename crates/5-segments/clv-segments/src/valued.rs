//! Every customer's RFM scores and segment, their predictions from the valuation, and their
//! value tier: what `clv segments`, `clv customer`, the report and the dashboard show. RFM needs
//! no model, so a valuation that cannot be made (too few customers, say) leaves the segments
//! standing and says why the rest is missing.

use crate::rfm::{self, RfmInput, RfmScore, RuleError, SegmentRule};
use crate::tiers;
use clv_data::time::DAY;
use clv_data::TimeUnit;
use clv_score::{Fits, ScoreColumns, ValuationConfig, ValuationError};
use clv_summary::{summary_rows, Histories, SummaryOptions, SummaryRow};

/// Why customers could not be valued.
#[derive(Debug, thiserror::Error)]
pub enum ValuedError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("value tiers take increasing percentages between 0 and 100, e.g. 1,5,20")]
    Tiers,
}

/// The predictions of every customer and the models behind them.
#[derive(Debug, Clone)]
pub struct Scored {
    pub columns: ScoreColumns,
    pub fits: Fits,
}

/// Every customer's RFM scores, segment, predictions and value tier, in summary (id) order.
#[derive(Debug)]
pub struct Valued<'h> {
    pub rows: Vec<SummaryRow<'h>>,
    pub recency_days: Vec<f64>,
    pub scores: Vec<RfmScore>,
    pub rules: Vec<SegmentRule>,
    pub segment: Vec<usize>,
    /// The valuation, or why it could not be made.
    pub scored: Result<Scored, ValuationError>,
    /// Value tier of each customer (empty without scores).
    pub tier: Vec<usize>,
    /// Tier cutoffs as shares.
    pub cutoffs: Vec<f64>,
}

/// A segment's customers, net revenue, orders and summed recency.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentTotal {
    pub customers: usize,
    pub revenue: f64,
    pub orders: u64,
    pub recency_days: f64,
    /// Summed P(alive) (0 without a valuation).
    pub p_alive: f64,
}

/// Score, segment and value the customers of `histories`: RFM with `rules`, the valuation with
/// `config`, tiers at the cumulative `tier_percents` of customers by predicted CLV.
pub fn value<'h>(
    histories: &'h Histories,
    config: &ValuationConfig,
    rules: Vec<SegmentRule>,
    tier_percents: &[f64],
) -> Result<Valued<'h>, ValuedError> {
    rfm::check_rules(&rules)?;
    let mut cutoffs: Vec<f64> = tier_percents.iter().map(|t| t / 100.0).collect();
    if !(cutoffs.iter().all(|c| *c > 0.0 && *c <= 1.0) && cutoffs.windows(2).all(|w| w[0] < w[1])) {
        return Err(ValuedError::Tiers);
    }
    cutoffs.dedup();
    let Rfm {
        rows,
        recency_days,
        scores,
        segment,
    } = rfm(histories, &rules, config.threads);
    let scored = clv_score::value(histories, config).map(|v| Scored {
        columns: v.scores(0..v.len()),
        fits: v.fits,
    });
    let tier = match &scored {
        Ok(s) => tiers::tiers(&s.columns.predicted_clv.value, &cutoffs),
        Err(_) => Vec::new(),
    };
    Ok(Valued {
        rows,
        recency_days,
        scores,
        rules,
        segment,
        scored,
        tier,
        cutoffs,
    })
}

/// Every customer's summary row, days since the last order, RFM scores and segment (an index
/// into `rules`), in summary (id) order.
#[derive(Debug)]
pub struct Rfm<'h> {
    pub rows: Vec<SummaryRow<'h>>,
    pub recency_days: Vec<f64>,
    pub scores: Vec<RfmScore>,
    pub segment: Vec<usize>,
}

/// Score and segment the customers of `histories` by recency, frequency and monetary value.
pub fn rfm<'h>(histories: &'h Histories, rules: &[SegmentRule], threads: usize) -> Rfm<'h> {
    let rows = summary_rows(
        histories,
        SummaryOptions {
            time_unit: TimeUnit::Day,
            include_first: false,
            threads,
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
    let segment = scores.iter().map(|&s| rfm::segment_of(rules, s)).collect();
    Rfm {
        rows,
        recency_days,
        scores,
        segment,
    }
}

impl Valued<'_> {
    /// Why there is no predicted CLV (no valuation, or no spend model), when there is none.
    pub fn why_no_value(&self) -> Option<String> {
        match &self.scored {
            Err(e) => Some(format!(
                "the purchase and spend models could not be fitted: {e}"
            )),
            Ok(s) => s
                .fits
                .no_value
                .as_ref()
                .map(|why| format!("there is no spend model: {why}")),
        }
    }

    /// Predicted CLV of every customer (empty without a valuation or a spend model).
    pub fn predicted_clv(&self) -> &[f64] {
        self.scored
            .as_ref()
            .map_or(&[][..], |s| &s.columns.predicted_clv.value)
    }

    /// P(alive) of every customer (empty without a valuation).
    pub fn p_alive(&self) -> &[f64] {
        self.scored
            .as_ref()
            .map_or(&[][..], |s| &s.columns.p_alive.value)
    }

    /// The share of customers the valuable-at-risk list draws from (the widest tier).
    pub fn valuable_share(&self) -> f64 {
        *self.cutoffs.last().unwrap_or(&0.2)
    }

    /// Valuable customers at risk: CLV if still active in the widest tier, P(alive) below 0.5,
    /// by value at risk, largest first.
    pub fn at_risk(&self) -> Vec<(usize, f64)> {
        tiers::valuable_at_risk(
            self.predicted_clv(),
            self.p_alive(),
            self.valuable_share(),
            0.5,
        )
    }

    /// Customer `i`'s predicted CLV if still active: predicted CLV / P(alive) (0 when P(alive)
    /// is 0, as in the at-risk ranking).
    pub fn clv_if_active(&self, i: usize) -> f64 {
        let (c, p) = (self.predicted_clv()[i], self.p_alive()[i]);
        if p > 0.0 {
            c / p
        } else {
            0.0
        }
    }

    /// Totals per rule, in rule order.
    pub fn segment_totals(&self) -> Vec<SegmentTotal> {
        let mut totals = vec![SegmentTotal::default(); self.rules.len()];
        for (i, r) in self.rows.iter().enumerate() {
            let t = &mut totals[self.segment[i]];
            t.customers += 1;
            t.revenue += r.revenue;
            t.orders += r.orders;
            t.recency_days += self.recency_days[i];
            t.p_alive += self.p_alive().get(i).copied().unwrap_or(0.0);
        }
        totals
    }

    /// The segment name of customer `i`.
    pub fn segment_name(&self, i: usize) -> &str {
        &self.rules[self.segment[i]].segment
    }
}
