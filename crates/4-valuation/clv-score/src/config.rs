//! What a valuation is asked to do, as types: no strings to parse, no command-line structs. Front
//! ends (the CLI, the service, Python, Spark) build a [`ValuationConfig`] from their own inputs.

use clv_data::TimeUnit;
use clv_models::{LoadedModel, PurchaseModel};
use std::time::Duration;

/// Which purchase model to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    Fixed(PurchaseModel),
    /// Fit BG/NBD, MBG/NBD and Pareto/NBD and keep the best: lowest holdout error when there is a
    /// calibration cut, otherwise lowest BIC.
    Auto,
}

impl std::str::FromStr for ModelChoice {
    type Err = clv_models::NotAPurchaseModel;
    /// `auto`, or a purchase model by any of its names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(ModelChoice::Auto);
        }
        text.parse().map(ModelChoice::Fixed)
    }
}

/// Intervals on every prediction from parameter uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intervals {
    None,
    /// Delta method from the fit's covariance, at `level` coverage.
    Delta {
        level: f64,
    },
    /// Percentiles over `draws` refits to data simulated from the fitted models.
    Bootstrap {
        level: f64,
        draws: usize,
        seed: u64,
    },
}

/// A method name that is none of the ones a setting accepts.
#[derive(Debug, thiserror::Error)]
#[error("unknown {setting} `{given}`: use {accepted}")]
pub struct UnknownMethod {
    pub setting: &'static str,
    pub given: String,
    pub accepted: &'static str,
}

/// `delta`, `bootstrap` or `none`, at 90% coverage and, for the bootstrap, 100 draws from seed
/// 42 (change them with [`Intervals::with`]).
impl std::str::FromStr for Intervals {
    type Err = UnknownMethod;
    fn from_str(text: &str) -> Result<Self, UnknownMethod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "delta" => Ok(Intervals::Delta { level: 0.9 }),
            "bootstrap" => Ok(Intervals::Bootstrap {
                level: 0.9,
                draws: 100,
                seed: 42,
            }),
            "none" => Ok(Intervals::None),
            given => Err(UnknownMethod {
                setting: "interval method",
                given: given.into(),
                accepted: "delta, bootstrap or none",
            }),
        }
    }
}

impl Intervals {
    /// The same method at `level` coverage and, for the bootstrap, `draws` refits from `seed`.
    pub fn with(self, level: f64, draws: usize, seed: u64) -> Intervals {
        match self {
            Intervals::None => Intervals::None,
            Intervals::Delta { .. } => Intervals::Delta { level },
            Intervals::Bootstrap { .. } => Intervals::Bootstrap { level, draws, seed },
        }
    }

    /// The coverage, when there are intervals.
    pub fn level(self) -> Option<f64> {
        match self {
            Intervals::None => None,
            Intervals::Delta { level } | Intervals::Bootstrap { level, .. } => Some(level),
        }
    }
}

/// How future purchases are discounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discounting {
    /// Each expected purchase discounted at its expected time.
    Continuous,
    /// lifetimes' scheme: whole months, a monthly rate and its own month lengths per time unit,
    /// for comparing with that package.
    Lifetimes,
}

/// `continuous` or `lifetimes`.
impl std::str::FromStr for Discounting {
    type Err = UnknownMethod;
    fn from_str(text: &str) -> Result<Self, UnknownMethod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "continuous" => Ok(Discounting::Continuous),
            "lifetimes" => Ok(Discounting::Lifetimes),
            given => Err(UnknownMethod {
                setting: "discounting",
                given: given.into(),
                accepted: "continuous or lifetimes",
            }),
        }
    }
}

/// Everything a valuation needs besides the data.
#[derive(Debug, Clone)]
pub struct ValuationConfig {
    pub model: ModelChoice,
    /// The unit the models' time parameters are in (a saved purchase model keeps its own).
    pub time_unit: TimeUnit,
    /// How far ahead to predict.
    pub horizon: Duration,
    /// Annual discount rate as a fraction (0.1 for 10%).
    pub annual_discount_rate: f64,
    pub discounting: Discounting,
    /// L2 penalty for the models fitted here (0: plain maximum likelihood).
    pub penalty: f64,
    pub intervals: Intervals,
    /// Threads the valuation may use (0 and 1: the calling thread only). Nested work (a
    /// bootstrap's refits and their likelihoods) shares these, never multiplies them.
    pub threads: usize,
    /// A saved purchase model to use as it is instead of fitting one.
    pub saved_purchase: Option<LoadedModel>,
    /// A saved spend model to use as it is instead of fitting one.
    pub saved_spend: Option<LoadedModel>,
    /// Where the fits count their progress, for a caller that shows it.
    pub progress: Option<&'static clv_models::FitProgress>,
}

impl Default for ValuationConfig {
    /// MBG/NBD in weeks (one-time buyers can be inactive, unlike in BG/NBD), the next 365 days at
    /// 10% a year, continuous discounting, delta-method intervals at 90%, on the calling thread.
    fn default() -> Self {
        ValuationConfig {
            model: ModelChoice::Fixed(PurchaseModel::MbgNbd),
            time_unit: TimeUnit::Week,
            horizon: Duration::from_secs(365 * 86_400),
            annual_discount_rate: 0.1,
            discounting: Discounting::Continuous,
            penalty: 0.0,
            intervals: Intervals::Delta { level: 0.9 },
            threads: 1,
            saved_purchase: None,
            saved_spend: None,
            progress: None,
        }
    }
}

impl ValuationConfig {
    /// The horizon in days.
    pub fn horizon_days(&self) -> f64 {
        self.horizon.as_secs_f64() / 86_400.0
    }

    /// Fitting options for fits made on the caller's threads.
    pub fn fit_options(&self) -> clv_models::FitOptions {
        clv_models::FitOptions {
            penalty: self.penalty,
            threads: self.threads,
            progress: self.progress,
        }
    }
}

/// A length of time from days (which may be fractional), for [`ValuationConfig::horizon`].
pub fn days(days: f64) -> Duration {
    Duration::from_secs_f64(days * 86_400.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` parsed as an interval method and given level 0.8, 7 draws and seed 3: `expect`,
    /// or an error naming the accepted methods.
    fn check(text: &str, expect: Option<Intervals>) {
        let got = text.parse::<Intervals>().map(|i| i.with(0.8, 7, 3));
        match (got, expect) {
            (Ok(got), Some(want)) => assert_eq!(got, want, "{text}"),
            (Err(e), None) => assert!(e.to_string().contains("delta, bootstrap or none"), "{e}"),
            (got, want) => panic!("{text}: {got:?} vs {want:?}"),
        }
    }

    #[test]
    fn interval_methods_by_name_take_their_settings() {
        check("delta", Some(Intervals::Delta { level: 0.8 }));
        check(
            " Bootstrap",
            Some(Intervals::Bootstrap {
                level: 0.8,
                draws: 7,
                seed: 3,
            }),
        );
        check("none", Some(Intervals::None));
        check("bayes", None);
        assert_eq!(
            "lifetimes".parse::<Discounting>().unwrap(),
            Discounting::Lifetimes
        );
        assert_eq!(
            "continuous".parse::<Discounting>().unwrap(),
            Discounting::Continuous
        );
        let e = "monthly".parse::<Discounting>().unwrap_err().to_string();
        assert!(
            e.contains("`monthly`") && e.contains("continuous or lifetimes"),
            "{e}"
        );
    }
}
