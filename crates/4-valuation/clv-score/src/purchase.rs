//! A purchase model fitted to (x, t_x, T) patterns: what validation, automatic choice and
//! scoring all start from.

use crate::error::ValuationError;
use clv_models::{FitOptions, FitReport, Pattern, PurchaseModel, PurchasePredictor};

/// A fitted continuous-time purchase model.
#[derive(Debug, Clone)]
pub struct FittedPurchase {
    pub model: PurchaseModel,
    pub report: FitReport,
}

impl FittedPurchase {
    /// The model's predictions at the fitted parameters.
    pub fn predictor(&self) -> Box<dyn PurchasePredictor> {
        self.model.predictor(&self.report.params)
    }
}

/// Fit `model` to `rows`.
pub fn fit_purchase(
    model: PurchaseModel,
    rows: &[Pattern],
    options: FitOptions,
) -> Result<FittedPurchase, ValuationError> {
    let report = model
        .fit(rows, options)
        .map_err(|cause| ValuationError::Fit {
            model: model.into(),
            cause,
        })?;
    Ok(FittedPurchase { model, report })
}
