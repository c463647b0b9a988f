//! Valuation: from a shop's order histories to what every customer is worth.
//!
//! - [`config`]: the typed request (model or automatic choice, time unit, horizon, discount
//!   rate, intervals, penalty, threads, saved models).
//! - [`score`]: [`value`] fits (or takes) the purchase and spend models and forecasts every
//!   distinct history once; [`Valuation`] then scores any run of customers.
//! - [`purchase`]: a purchase model fitted to the customers' patterns.
//! - [`choose`]: choosing the purchase model automatically, with the reason.
//! - [`validate`]: the holdout comparison of the purchase models.
//! - [`bootstrap`]: refits to data simulated from the fitted models, for bootstrap intervals.
//! - [`fit`]: one model fitted to a shop's data, for `clv fit` and saved models.
//! - [`discrete`]: BG/BB on purchase opportunities and sBG on subscriptions.
//!
//! The input is [`clv_summary::Histories`], however they were built: from a file, an upload or
//! rows read from a database. Nothing here prints, reads files or parses option strings; errors
//! are [`ValuationError`] values and warnings are fields of the results. Work runs on the
//! threads [`ValuationConfig::threads`] allows, never more.

pub mod bootstrap;
pub mod choose;
pub mod config;
pub mod discrete;
pub mod error;
pub mod fit;
pub mod purchase;
pub mod score;
pub mod validate;

pub use choose::{Choice, Criterion, FittedPurchase};
pub use config::{Discounting, Intervals, ModelChoice, ValuationConfig};
pub use error::ValuationError;
pub use fit::{FitOutcome, FitTarget, OrderModel};
pub use score::{value, Bounded, Fits, ModelEstimate, ScoreColumns, Valuation};
pub use validate::{ModelValidation, Validation};
