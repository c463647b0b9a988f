//! Fitting one model to a shop's data and describing the result, for `clv fit` and saved models:
//! purchase models (or the automatic choice) and Gamma-Gamma from order histories, BG/BB from
//! opportunity patterns, sBG from tenures.

use crate::choose::{choose_by_bic, choose_by_holdout, fit_purchase, Choice};
use crate::error::ValuationError;
use crate::score::repeat_spend;
use clv_data::TimeUnit;
use clv_models::saved::fingerprint;
use clv_models::{
    fit_with, BgBb, FitOptions, FitReport, ModelKind, Pattern, Patterns, ShiftedBetaGeometric,
    SpendModel, Tenure,
};
use clv_summary::{summary_rows, Histories, SummaryOptions};

/// What to fit to order histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderModel {
    Purchase(crate::config::ModelChoice),
    Spend,
}

/// Any model to fit: to order histories, to purchase opportunities (BG/BB) or to subscriptions
/// (sBG). Parses `auto` and every model name [`ModelKind`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitTarget {
    Orders(OrderModel),
    Opportunities,
    Subscriptions,
}

impl std::str::FromStr for FitTarget {
    type Err = clv_models::UnknownModel;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use crate::config::ModelChoice;
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(FitTarget::Orders(OrderModel::Purchase(ModelChoice::Auto)));
        }
        Ok(match text.parse::<ModelKind>()? {
            ModelKind::Purchase(m) => {
                FitTarget::Orders(OrderModel::Purchase(ModelChoice::Fixed(m)))
            }
            ModelKind::Spend(_) => FitTarget::Orders(OrderModel::Spend),
            ModelKind::BgBb => FitTarget::Opportunities,
            ModelKind::Sbg => FitTarget::Subscriptions,
        })
    }
}

/// A model fitted to a shop's data, and what it was fitted on.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    pub kind: ModelKind,
    pub report: FitReport,
    /// Customers in the data, and those left out of the model's (e.g. no repeat purchase for the
    /// spend model).
    pub customers: u64,
    pub excluded: u64,
    /// FxHash of the fitted rows, to recognise the same data later.
    pub fingerprint: String,
    /// How the purchase model was chosen, when it was chosen automatically.
    pub choice: Option<Choice>,
}

/// Fit a purchase model (or choose one: by holdout error when `h` has a calibration cut, else by
/// BIC) or the spend model to order histories, times in `time_unit`.
pub fn fit_orders(
    h: &Histories,
    what: OrderModel,
    time_unit: TimeUnit,
    options: FitOptions,
) -> Result<FitOutcome, ValuationError> {
    let rows = summary_rows(
        h,
        SummaryOptions {
            time_unit,
            include_first: false,
            threads: options.threads,
        },
    );
    let customers = rows.len() as u64;
    match what {
        OrderModel::Spend => {
            let revenue: Vec<f64> = rows.iter().map(|r| r.revenue).collect();
            let orders: Vec<i64> = rows.iter().map(|r| r.orders as i64).collect();
            if let Some(why) = crate::score::spend_unmodellable(&revenue, &orders) {
                return Err(ValuationError::Data(format!("Gamma-Gamma: {why}")));
            }
            let frequency: Vec<i64> = rows.iter().map(|r| r.frequency as i64).collect();
            let monetary: Vec<f64> = rows.iter().map(|r| r.monetary_value).collect();
            let spend = repeat_spend(&frequency, &monetary);
            let report = SpendModel::GammaGamma
                .fit(&spend, options)
                .map_err(|cause| ValuationError::Fit {
                    model: ModelKind::GAMMA_GAMMA,
                    cause,
                })?;
            Ok(FitOutcome {
                kind: ModelKind::GAMMA_GAMMA,
                report,
                customers,
                excluded: customers - spend.len() as u64,
                fingerprint: fingerprint(spend.iter().flat_map(|s| [s.x, s.m])),
                choice: None,
            })
        }
        OrderModel::Purchase(choice) => {
            let data =
                Patterns::compress(rows.iter().map(|r| (r.frequency as f64, r.recency, r.t)));
            let (fitted, choice) = match choice {
                crate::config::ModelChoice::Fixed(model) => {
                    (fit_purchase(model, &data.rows, options)?, None)
                }
                // The calibration patterns are `data` either way; a holdout, if any, decides.
                crate::config::ModelChoice::Auto => {
                    let choice = if h.calibration_end.is_some() {
                        choose_by_holdout(h, time_unit, options)?
                    } else {
                        choose_by_bic(&data.rows, options)?
                    };
                    (choice.fitted.clone(), Some(choice))
                }
            };
            Ok(FitOutcome {
                kind: fitted.model.into(),
                report: fitted.report,
                customers,
                excluded: 0,
                fingerprint: pattern_fingerprint(&data.rows),
                choice,
            })
        }
    }
}

fn pattern_fingerprint(rows: &[Pattern]) -> String {
    fingerprint(rows.iter().flat_map(|p| [p.x, p.t_x, p.t, p.weight]))
}

/// Fit BG/BB to opportunity patterns.
pub fn fit_opportunities(
    rows: &[Pattern],
    options: FitOptions,
) -> Result<FitOutcome, ValuationError> {
    let report = fit_with(&BgBb, rows, options).map_err(|cause| ValuationError::Fit {
        model: ModelKind::BgBb,
        cause,
    })?;
    Ok(FitOutcome {
        kind: ModelKind::BgBb,
        customers: report.customers as u64,
        report,
        excluded: 0,
        fingerprint: pattern_fingerprint(rows),
        choice: None,
    })
}

/// Fit the shifted-beta-geometric model to tenures.
pub fn fit_tenures(rows: &[Tenure], options: FitOptions) -> Result<FitOutcome, ValuationError> {
    let report =
        fit_with(&ShiftedBetaGeometric, rows, options).map_err(|cause| ValuationError::Fit {
            model: ModelKind::Sbg,
            cause,
        })?;
    Ok(FitOutcome {
        kind: ModelKind::Sbg,
        customers: report.customers as u64,
        report,
        excluded: 0,
        fingerprint: fingerprint(
            rows.iter()
                .flat_map(|r| [r.periods, r.churned as u8 as f64, r.weight]),
        ),
        choice: None,
    })
}
