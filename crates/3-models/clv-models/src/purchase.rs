//! What scoring needs from a continuous-time purchase model (BG/NBD, MBG/NBD, Pareto/NBD), so
//! discounting, CLV, next-order dates and validation are written once for all of them.

use crate::hyp2f1::Hyp2f1Error;

/// Predictions of a fitted purchase model for a customer with x repeat purchases, the last at
/// t_x, observed for T. In all three models the expected purchases ahead are P(alive) times the
/// expectation for an active customer, which depends on x and T only; callers that need many
/// horizons compute P(alive) (for Pareto/NBD a likelihood evaluation) once.
pub trait PurchasePredictor: Sync + Send {
    /// Probability the customer is still active at T.
    fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> Result<f64, Hyp2f1Error>;
    /// Expected purchases in (T, T + t] if the customer is still active at T.
    fn expected_purchases_if_active(&self, t: f64, x: f64, big_t: f64) -> Result<f64, Hyp2f1Error>;
    /// The purchase rate of an active customer given x purchases over T, as Gamma(shape, rate):
    /// Gamma(r + x, α + T) in all three models.
    fn active_rate(&self, x: f64, big_t: f64) -> (f64, f64);
    /// P(X(T, T+t] ≤ n | active at T) for n = 0, 1, …, stopping once it reaches `until`.
    fn cumulative_purchases_if_active(
        &self,
        t: f64,
        x: f64,
        big_t: f64,
        until: f64,
    ) -> Result<Vec<f64>, Hyp2f1Error>;
    /// Expected purchases in (T, T + t].
    fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        Ok(self.p_alive(x, t_x, big_t)? * self.expected_purchases_if_active(t, x, big_t)?)
    }
}
