//! Customer-base models fitted by maximum likelihood.
//!
//! - [`data`]: per-customer (x, t_x, T) rows, compressed into distinct patterns with weights so
//!   fitting cost grows with distinct patterns, not customers.
//! - [`fit`]: the fitting engine every model shares: L-BFGS on log-parameters with analytic
//!   gradients, restarts from several starting points, convergence checks that refuse to return
//!   a bad fit, and standard errors from the observed information.
//! - [`bgnbd`]: BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam et al. 2007), one
//!   overflow-safe implementation.
//! - [`pareto`]: Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in an all-positive form.
//! - [`bgbb`]: BG/BB (Fader, Hardie & Shang 2010) for discrete purchase opportunities.
//! - [`sbg`]: the shifted-beta-geometric retention model for subscriptions.
//! - [`gamma_gamma`]: the Gamma-Gamma spend model.
//! - [`purchase`]: the predictions scoring needs, common to the continuous-time purchase models.
//! - [`forecast`]: per-customer forecasts with intervals (delta method or bootstrap draws),
//!   computed once per distinct history.
//! - [`value`]: discounted expected purchases, CLV and the expected next-order date.
//! - [`hyp2f1`]: the Gauss hypergeometric function for the real arguments the models need.
//! - [`kind`]: the models as types (names, aliases, parameters, fitting, predictions).
//! - [`saved`]: the saved-model JSON format.
//!
//! No IO, no printing, no threads of its own: fitting and forecasting use as many threads as the
//! caller's options allow.

// The `vec` feature of argmin's math backend: L-BFGS and Nelder-Mead work on `Vec<f64>`.
use argmin_math as _;

pub mod bgbb;
pub mod bgnbd;
pub mod data;
pub mod fit;
pub mod forecast;
pub mod gamma_gamma;
pub mod hyp2f1;
pub mod kind;
pub mod pareto;
pub mod purchase;
pub mod saved;
pub mod sbg;
pub mod value;

pub use bgbb::{BgBb, BgBbParams};
pub use bgnbd::{BgNbd, BgNbdParams, MbgNbd, Variant};
pub use data::{Pattern, Patterns};
pub use fit::{fit, fit_with, gradient_error, FitError, FitOptions, FitProgress, FitReport, Model};
pub use gamma_gamma::{spend_patterns, GammaGamma, GammaGammaParams, SpendPattern};
pub use kind::{ModelKind, NotAPurchaseModel, PurchaseModel, SpendModel, UnknownModel};
pub use pareto::{ParetoNbd, ParetoNbdParams};
pub use purchase::PurchasePredictor;
pub use saved::{DataInfo, LoadedModel, SavedModel, SavedModelError};
pub use sbg::{SbgParams, ShiftedBetaGeometric, Tenure};
