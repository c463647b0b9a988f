//! What scoring needs from a continuous-time purchase model (BG/NBD, MBG/NBD, Pareto/NBD), so
//! discounting, CLV, next-order dates and validation are written once for all of them.

use crate::bgnbd::BgNbdParams;
use crate::hyp2f1::Hyp2f1Error;
use crate::pareto::ParetoNbdParams;

/// Predictions of a fitted purchase model for a customer with x repeat purchases, the last at
/// t_x, observed for T.
pub trait PurchasePredictor: Sync + Send {
    /// Probability the customer is still active at T.
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error>;
    /// Expected purchases in (T, T + t].
    fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error>;
    /// The purchase rate of an active customer given x purchases over T, as Gamma(shape, rate):
    /// Gamma(r + x, α + T) in all three models.
    fn active_rate(&self, x: f64, big_t: f64) -> (f64, f64);
}

impl PurchasePredictor for BgNbdParams {
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        Ok(BgNbdParams::p_alive(self, x, t_x, big_t))
    }
    fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        BgNbdParams::conditional_expected_purchases(self, t, x, t_x, big_t)
    }
    fn active_rate(&self, x: f64, big_t: f64) -> (f64, f64) {
        (self.r + x, self.alpha + big_t)
    }
}

impl PurchasePredictor for ParetoNbdParams {
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error> {
        ParetoNbdParams::p_alive(self, x, t_x, big_t)
    }
    fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        ParetoNbdParams::conditional_expected_purchases(self, t, x, t_x, big_t)
    }
    fn active_rate(&self, x: f64, big_t: f64) -> (f64, f64) {
        (self.r + x, self.alpha + big_t)
    }
}
