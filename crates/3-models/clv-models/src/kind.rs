//! The models clv fits, as types: the names users type (with the names they bring from lifetimes,
//! PyMC-Marketing and CLVTools), display names, parameter names, fitting and predictions. Model
//! kinds are strings only at the edges: parsed here from what a user typed, and written as
//! [`ModelKind::key`] in saved models.

use crate::bgnbd::{BgNbd, BgNbdParams, MbgNbd, Variant};
use crate::data::Pattern;
use crate::fit::{fit_with, FitError, FitOptions, FitReport};
use crate::gamma_gamma::{GammaGamma, SpendPattern};
use crate::pareto::{ParetoNbd, ParetoNbdParams};
use crate::purchase::PurchasePredictor;
use std::fmt;
use std::str::FromStr;

/// A continuous-time purchase model: the ones scoring, validation and `--model auto` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PurchaseModel {
    /// BG/NBD (Fader, Hardie & Lee 2005): dropout after repeat purchases.
    BgNbd,
    /// MBG/NBD (Batislam et al. 2007): dropout also right after the first purchase.
    MbgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): exponential lifetimes.
    ParetoNbd,
}

impl PurchaseModel {
    /// Every purchase model, in the order comparisons list them.
    pub const ALL: [PurchaseModel; 3] = [
        PurchaseModel::BgNbd,
        PurchaseModel::MbgNbd,
        PurchaseModel::ParetoNbd,
    ];

    /// Parameter names in fitting order (as saved).
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            PurchaseModel::BgNbd | PurchaseModel::MbgNbd => &["r", "alpha", "a", "b"],
            PurchaseModel::ParetoNbd => &["r", "alpha", "s", "beta"],
        }
    }

    /// Parameter symbols for people (α for alpha).
    pub fn param_symbols(self) -> &'static [&'static str] {
        match self {
            PurchaseModel::BgNbd | PurchaseModel::MbgNbd => &["r", "α", "a", "b"],
            PurchaseModel::ParetoNbd => &["r", "α", "s", "β"],
        }
    }

    /// The model's predictions at `params` (in [`PurchaseModel::param_names`] order).
    pub fn predictor(self, params: &[f64]) -> Box<dyn PurchasePredictor> {
        match self {
            PurchaseModel::BgNbd => Box::new(BgNbdParams::of(Variant::Bg, params)),
            PurchaseModel::MbgNbd => Box::new(BgNbdParams::of(Variant::Mbg, params)),
            PurchaseModel::ParetoNbd => Box::new(ParetoNbdParams::from_slice(params)),
        }
    }

    /// Fit the model to (x, t_x, T) patterns by maximum likelihood.
    pub fn fit(self, rows: &[Pattern], options: FitOptions) -> Result<FitReport, FitError> {
        match self {
            PurchaseModel::BgNbd => fit_with(&BgNbd, rows, options),
            PurchaseModel::MbgNbd => fit_with(&MbgNbd, rows, options),
            PurchaseModel::ParetoNbd => fit_with(&ParetoNbd, rows, options),
        }
    }
}

/// A spend model: the value of a customer's purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpendModel {
    /// Gamma-Gamma (Colombo & Jiang 1999; Fader, Hardie & Lee 2005).
    GammaGamma,
}

impl SpendModel {
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            SpendModel::GammaGamma => &["p", "q", "gamma"],
        }
    }

    /// Fit the model to repeat buyers' mean spend by maximum likelihood.
    pub fn fit(self, rows: &[SpendPattern], options: FitOptions) -> Result<FitReport, FitError> {
        match self {
            SpendModel::GammaGamma => fit_with(&GammaGamma, rows, options),
        }
    }
}

/// Every model clv fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    Purchase(PurchaseModel),
    Spend(SpendModel),
    /// BG/BB (Fader, Hardie & Shang 2010) for discrete purchase opportunities.
    BgBb,
    /// Shifted-beta-geometric retention for subscriptions (Fader & Hardie 2007).
    Sbg,
}

impl ModelKind {
    pub const BG_NBD: ModelKind = ModelKind::Purchase(PurchaseModel::BgNbd);
    pub const MBG_NBD: ModelKind = ModelKind::Purchase(PurchaseModel::MbgNbd);
    pub const PARETO_NBD: ModelKind = ModelKind::Purchase(PurchaseModel::ParetoNbd);
    pub const GAMMA_GAMMA: ModelKind = ModelKind::Spend(SpendModel::GammaGamma);

    /// Every model kind.
    pub const ALL: [ModelKind; 6] = [
        ModelKind::BG_NBD,
        ModelKind::MBG_NBD,
        ModelKind::PARETO_NBD,
        ModelKind::GAMMA_GAMMA,
        ModelKind::BgBb,
        ModelKind::Sbg,
    ];

    /// The short name clv's options and saved models use.
    pub fn key(self) -> &'static str {
        match self {
            ModelKind::BG_NBD => "bgnbd",
            ModelKind::MBG_NBD => "mbgnbd",
            ModelKind::PARETO_NBD => "pareto",
            ModelKind::GAMMA_GAMMA => "gg",
            ModelKind::BgBb => "bgbb",
            ModelKind::Sbg => "sbg",
        }
    }

    /// The model's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            ModelKind::BG_NBD => "BG/NBD",
            ModelKind::MBG_NBD => "MBG/NBD",
            ModelKind::PARETO_NBD => "Pareto/NBD",
            ModelKind::GAMMA_GAMMA => "Gamma-Gamma",
            ModelKind::BgBb => "BG/BB",
            ModelKind::Sbg => "sBG",
        }
    }

    /// Parameter names in fitting order (as saved).
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            ModelKind::Purchase(m) => m.param_names(),
            ModelKind::Spend(m) => m.param_names(),
            ModelKind::BgBb => &["alpha", "beta", "gamma", "delta"],
            ModelKind::Sbg => &["alpha", "beta"],
        }
    }

    /// The continuous-time purchase model, if this is one.
    pub fn purchase(self) -> Option<PurchaseModel> {
        match self {
            ModelKind::Purchase(m) => Some(m),
            _ => None,
        }
    }
}

impl From<PurchaseModel> for ModelKind {
    fn from(m: PurchaseModel) -> Self {
        ModelKind::Purchase(m)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl fmt::Display for PurchaseModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ModelKind::from(*self).display_name())
    }
}

/// A model name clv does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{0}`: use bgnbd, mbgnbd, pareto, gg, bgbb or sbg (bg-nbd, mbg-nbd, pnbd, pareto-nbd and gamma-gamma are accepted too)")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;
    /// The key, or a name from the peers: case, `-`, `_`, `/` and spaces do not matter, so
    /// `BG/NBD`, `bg-nbd` and `BetaGeo` all name BG/NBD.
    fn from_str(text: &str) -> Result<Self, UnknownModel> {
        let plain: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | '/' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match plain.as_str() {
            "bgnbd" | "betageo" => ModelKind::BG_NBD,
            "mbgnbd" | "modifiedbetageo" => ModelKind::MBG_NBD,
            "pareto" | "paretonbd" | "pnbd" => ModelKind::PARETO_NBD,
            "gg" | "gammagamma" => ModelKind::GAMMA_GAMMA,
            "bgbb" | "betageobetabinom" => ModelKind::BgBb,
            "sbg" | "shiftedbetageometric" => ModelKind::Sbg,
            _ => return Err(UnknownModel(text.to_string())),
        })
    }
}

/// A model that is not a continuous-time purchase model where one is needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAPurchaseModel {
    #[error(transparent)]
    Unknown(#[from] UnknownModel),
    #[error("gg is the spend model: Gamma-Gamma is always fitted for spend; the purchase model is bgnbd, mbgnbd or pareto")]
    Spend,
    #[error("{} predicts {}, not a shop's continuous purchases: fit it on its own (`clv fit --model {}`); the purchase model is bgnbd, mbgnbd or pareto", .0, if *.0 == ModelKind::Sbg { "subscription renewals" } else { "purchases at discrete opportunities" }, .0.key())]
    Discrete(ModelKind),
}

impl FromStr for PurchaseModel {
    type Err = NotAPurchaseModel;
    fn from_str(text: &str) -> Result<Self, NotAPurchaseModel> {
        match text.parse::<ModelKind>()? {
            ModelKind::Purchase(m) => Ok(m),
            ModelKind::Spend(_) => Err(NotAPurchaseModel::Spend),
            other => Err(NotAPurchaseModel::Discrete(other)),
        }
    }
}

impl serde::Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> serde::Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PurchaseModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ModelKind::from(*self).serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_users_bring_parse_to_their_model() {
        let check = |text: &str, want: Option<ModelKind>| {
            assert_eq!(text.parse::<ModelKind>().ok(), want, "{text}");
        };
        for (text, want) in [
            ("bgnbd", ModelKind::BG_NBD),
            ("bg-nbd", ModelKind::BG_NBD),
            ("BG/NBD", ModelKind::BG_NBD),
            ("mbg-nbd", ModelKind::MBG_NBD),
            ("mbgnbd", ModelKind::MBG_NBD),
            ("pareto", ModelKind::PARETO_NBD),
            ("pnbd", ModelKind::PARETO_NBD),
            ("pareto-nbd", ModelKind::PARETO_NBD),
            ("Pareto/NBD", ModelKind::PARETO_NBD),
            ("gg", ModelKind::GAMMA_GAMMA),
            ("gamma-gamma", ModelKind::GAMMA_GAMMA),
            ("bgbb", ModelKind::BgBb),
            ("bg-bb", ModelKind::BgBb),
            ("sbg", ModelKind::Sbg),
        ] {
            check(text, Some(want));
        }
        check("nbd", None);
        check("", None);
        // Every key reads back as its own kind, and display names do too.
        for kind in ModelKind::ALL {
            check(kind.key(), Some(kind));
            check(kind.display_name(), Some(kind));
        }
    }
}
