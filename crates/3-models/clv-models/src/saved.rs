//! The saved-model format: versioned JSON with the estimates, the whole fit report and what the
//! model was fitted on, so a model fitted once scores new data later (`clv score --model-file`)
//! and a reader can tell where it came from.

use crate::fit::FitReport;
use crate::kind::ModelKind;
use std::collections::BTreeMap;

/// The `format` field of every saved model.
pub const FORMAT: &str = "clv-model";
/// Bump when the JSON changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// A fitted model as saved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SavedModel<'a> {
    pub format: &'static str,
    pub version: u32,
    pub kind: ModelKind,
    /// The model's time unit (day … year), or "opportunity"/"period" for BG/BB and sBG.
    pub time_unit: String,
    /// Parameter name → estimate, for reading by hand; `fit` has them in order with errors.
    pub parameters: BTreeMap<&'a str, f64>,
    pub fit: &'a FitReport,
    pub data: DataInfo,
}

/// What a model was fitted on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataInfo {
    pub file: String,
    pub customers: u64,
    /// Customers left out of this model's data (e.g. no repeat purchase for the spend model).
    pub excluded: u64,
    pub observation_end: String,
    /// FxHash of the fitted rows, to recognise the same data later.
    pub fingerprint: String,
}

impl<'a> SavedModel<'a> {
    pub fn new(kind: ModelKind, time_unit: String, fit: &'a FitReport, data: DataInfo) -> Self {
        SavedModel {
            format: FORMAT,
            version: FORMAT_VERSION,
            kind,
            time_unit,
            parameters: fit
                .names
                .iter()
                .map(String::as_str)
                .zip(fit.params.iter().copied())
                .collect(),
            fit,
            data,
        }
    }

    /// Pretty JSON with a final line break.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a saved model serialises") + "\n"
    }
}

/// A fingerprint of fitted data: FxHash of the values' bits, as 16 hex digits.
pub fn fingerprint(values: impl Iterator<Item = f64>) -> String {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    for v in values {
        h.write_u64(v.to_bits());
    }
    format!("{:016x}", h.finish())
}

/// A saved purchase or spend model read back: what scoring needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    pub kind: ModelKind,
    /// As saved (`week`, …); the caller parses it.
    pub time_unit: String,
    pub params: Vec<f64>,
    /// From the fit's observed information; absent in hand-written files.
    pub covariance: Option<Vec<Vec<f64>>>,
}

/// Why a saved model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedModelError {
    #[error("not JSON ({0}); pass a file written by `clv fit -o`")]
    NotJson(serde_json::Error),
    #[error("not a clv model of format version {FORMAT_VERSION}; refit with `clv fit -o`")]
    NotAModel,
    #[error("unknown model kind `{0}`")]
    UnknownKind(String),
    #[error("a `{}` model is for discrete opportunities or subscriptions; scoring takes bgnbd, mbgnbd, pareto and gg models", .0.key())]
    NotForScoring(ModelKind),
    #[error("parameter `{0}` missing or invalid (it must be a positive number)")]
    Parameter(&'static str),
    #[error("missing time_unit")]
    TimeUnit,
}

impl LoadedModel {
    /// Read a purchase or spend model from the JSON `clv fit -o` wrote.
    pub fn from_json(text: &str) -> Result<Self, SavedModelError> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(SavedModelError::NotJson)?;
        if json["format"] != FORMAT || json["version"] != FORMAT_VERSION {
            return Err(SavedModelError::NotAModel);
        }
        let kind_text = json["kind"].as_str().unwrap_or_default();
        let kind: ModelKind = kind_text
            .parse()
            .map_err(|_| SavedModelError::UnknownKind(kind_text.to_string()))?;
        if matches!(kind, ModelKind::BgBb | ModelKind::Sbg) {
            return Err(SavedModelError::NotForScoring(kind));
        }
        let params = kind
            .param_names()
            .iter()
            .map(|&n| {
                json["parameters"][n]
                    .as_f64()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or(SavedModelError::Parameter(n))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        let time_unit = json["time_unit"]
            .as_str()
            .ok_or(SavedModelError::TimeUnit)?
            .to_string();
        let covariance = serde_json::from_value(json["fit"]["covariance"].clone()).ok();
        Ok(LoadedModel {
            kind,
            time_unit,
            params,
            covariance,
        })
    }
}
