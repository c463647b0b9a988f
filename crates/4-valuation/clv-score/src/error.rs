//! Why a valuation could not be made. Every variant is something the caller can act on; a
//! service maps [`ValuationError::is_data_problem`] to 422 and the rest to 500.

use clv_models::forecast::SpreadError;
use clv_models::hyp2f1::Hyp2f1Error;
use clv_models::{FitError, ModelKind};

#[derive(Debug, thiserror::Error)]
pub enum ValuationError {
    // The fit error is in the message, not a source: callers printing the chain would repeat it.
    #[error("{model}: {cause}")]
    Fit { model: ModelKind, cause: FitError },
    #[error("no purchase model could be fitted ({})", failures(.0))]
    NoModelFitted(Vec<(ModelKind, FitError)>),
    #[error(
        "the spend model has q ≤ 1, so average spend is unbounded; CLV cannot be computed from it"
    )]
    UnboundedSpend,
    #[error("the saved {0} model has no covariance; refit it with `clv fit -o`, or ask for no intervals")]
    NoCovariance(ModelKind),
    #[error("intervals: {0}")]
    Spread(#[from] SpreadError),
    #[error("a prediction could not be computed: {0}")]
    Forecast(#[from] Hyp2f1Error),
    #[error("only {converged} of {draws} bootstrap refits converged; use delta-method intervals, or more data")]
    Bootstrap { converged: usize, draws: usize },
    #[error("validation needs a calibration end (a holdout to compare with)")]
    NoHoldout,
    #[error("the saved model's time unit: {0}")]
    TimeUnit(#[from] clv_data::TimeError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Data(String),
}

fn failures(list: &[(ModelKind, FitError)]) -> String {
    list.iter()
        .map(|(m, e)| format!("{m}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValuationError {
    /// True when the data or the request, not the engine, is at fault (a 4xx, not a 5xx).
    pub fn is_data_problem(&self) -> bool {
        !matches!(self, ValuationError::Forecast(_))
    }
}
