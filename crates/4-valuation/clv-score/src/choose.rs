//! Fitting a purchase model, and choosing one automatically: by holdout error when there is a
//! calibration cut, otherwise by BIC. The reasons are values, for the front ends to show.

use crate::error::ValuationError;
pub use crate::purchase::{fit_purchase, FittedPurchase};
use crate::validate::validation;
use clv_data::{thousands, TimeUnit};
use clv_models::{FitError, FitOptions, Pattern, PurchaseModel};
use clv_summary::Histories;

/// What an automatic choice compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// Lowest mean absolute error per customer on the holdout; the holdout's actual purchases
    /// and what the chosen model predicted.
    HoldoutError { actual: u64, predicted: f64 },
    /// Lowest BIC (no holdout).
    Bic,
}

/// A model chosen automatically, and why.
#[derive(Debug, Clone)]
pub struct Choice {
    pub fitted: FittedPurchase,
    pub criterion: Criterion,
    /// Each compared model's score (MAE or BIC), in comparison order.
    pub scores: Vec<(PurchaseModel, f64)>,
    /// Models that could not be fitted, so were not compared.
    pub not_compared: Vec<(PurchaseModel, FitError)>,
    /// Compared models with parameters the data does not (or only poorly) determine: a model
    /// without such parameters is preferred over them.
    pub doubtful: Vec<(PurchaseModel, Vec<String>)>,
}

/// The models among `fits` whose parameters the data does not determine well, and which.
fn doubtful<'f>(
    fits: impl IntoIterator<Item = &'f FittedPurchase>,
) -> Vec<(PurchaseModel, Vec<String>)> {
    fits.into_iter()
        .filter(|f| !f.report.well_determined())
        .map(|f| {
            let r = &f.report;
            (
                f.model,
                r.undetermined
                    .iter()
                    .chain(&r.poorly_determined)
                    .cloned()
                    .collect(),
            )
        })
        .collect()
}

impl Choice {
    /// The models that could not be compared, and why, then the reason for the choice.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .not_compared
            .iter()
            .map(|(model, e)| format!("{model}: not compared: {e}"))
            .collect();
        out.push(self.reason());
        out
    }

    /// The reason, for people.
    pub fn reason(&self) -> String {
        let doubts: Vec<String> = self
            .doubtful
            .iter()
            .map(|(m, params)| format!("{m} ({})", params.join(", ")))
            .collect();
        let passed = match doubts.is_empty() {
            true => String::new(),
            false => format!(
                "; preferring models whose parameters the data determines over {}",
                doubts.join(", ")
            ),
        };
        self.criterion_reason() + &passed
    }

    fn criterion_reason(&self) -> String {
        let chosen = self.fitted.model;
        match self.criterion {
            Criterion::HoldoutError { actual, predicted } => {
                let others = self
                    .scores
                    .iter()
                    .map(|(m, mae)| format!("{m} {mae:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "auto chose {chosen}: lowest mean absolute error per customer on the holdout ({others}; {} actual holdout purchases, it predicted {predicted:.0})",
                    thousands(actual)
                )
            }
            Criterion::Bic => {
                let summary = self
                    .scores
                    .iter()
                    .map(|(m, bic)| format!("{m} {bic:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "auto chose {chosen}: lowest BIC ({summary}); with a calibration end it would choose by holdout error instead"
                )
            }
        }
    }
}

/// The model with the lowest per-customer MAE on the holdout of `h`, as fitted on its
/// calibration window during the comparison.
pub fn choose_by_holdout(
    h: &Histories,
    time_unit: TimeUnit,
    options: FitOptions,
) -> Result<Choice, ValuationError> {
    let (v, fits) = validation(h, time_unit, &PurchaseModel::ALL, options)?;
    // A model whose parameters the data determines beats one whose it does not.
    let doubt = |k: usize| !fits[k].report.well_determined();
    let best = (0..v.models.len())
        .min_by(|&a, &b| {
            (doubt(a), v.models[a].mae)
                .partial_cmp(&(doubt(b), v.models[b].mae))
                .expect("finite")
        })
        .expect("validation compares at least one model");
    let criterion = Criterion::HoldoutError {
        actual: v.actual_holdout_purchases,
        predicted: v.models[best].predicted_holdout_purchases,
    };
    let scores = v.models.iter().map(|m| (m.model, m.mae)).collect();
    Ok(Choice {
        doubtful: doubtful(&fits),
        fitted: fits.into_iter().nth(best).expect("one fit per model"),
        criterion,
        scores,
        not_compared: v.not_compared,
    })
}

/// The lowest BIC among the purchase models that fit `rows`.
pub fn choose_by_bic(rows: &[Pattern], options: FitOptions) -> Result<Choice, ValuationError> {
    let n: f64 = rows.iter().map(|r| r.weight).sum();
    let mut fits: Vec<(f64, FittedPurchase)> = Vec::new();
    let mut not_compared = Vec::new();
    for model in PurchaseModel::ALL {
        match model.fit(rows, options) {
            Ok(report) => fits.push((
                report.params.len() as f64 * n.ln() - 2.0 * report.log_likelihood,
                FittedPurchase { model, report },
            )),
            Err(e) => not_compared.push((model, e)),
        }
    }
    if fits.is_empty() {
        return Err(ValuationError::NoModelFitted(
            not_compared
                .into_iter()
                .map(|(m, e)| (m.into(), e))
                .collect(),
        ));
    }
    let scores = fits.iter().map(|(bic, f)| (f.model, *bic)).collect();
    let doubts = doubtful(fits.iter().map(|(_, f)| f));
    // A model whose parameters the data determines beats one whose it does not.
    let key = |(bic, f): &(f64, FittedPurchase)| (!f.report.well_determined(), *bic);
    let (_, fitted) = fits
        .into_iter()
        .min_by(|a, b| key(a).partial_cmp(&key(b)).expect("finite"))
        .expect("non-empty");
    Ok(Choice {
        fitted,
        criterion: Criterion::Bic,
        scores,
        not_compared,
        doubtful: doubts,
    })
}
