//! Synthetic order logs from known processes, so tests and benchmarks can check that clv recovers
//! what was planted.
//!
//! Purchases follow one of the models clv fits ([`PurchaseProcess`]): BG/NBD, MBG/NBD,
//! Pareto/NBD, or BG/BB with one purchase opportunity per time unit.
//! Order values follow Gamma-Gamma: each order is Gamma(p, ν) with ν ~ Gamma(q, γ) per customer.
//! Customers arrive uniformly over an acquisition window; everything is observed until the end.
//! With a catalogue, each order also gets SKU lines: popular products are chosen more often,
//! some products come with a planted companion (added with `pair_probability`), and a customer who
//! buys a replenishable product re-orders it in an order of its own about every `cycle_days`
//! (±10%), 80% of the time each cycle, until they leave; those re-orders come on top of the purchase
//! process.

use clv_data::time::DAY;
use clv_data::{Table, TimeUnit, Values};
use clv_models::ModelKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal, Poisson};

/// The purchase process, its rate parameters per `time_unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PurchaseProcess {
    /// BG/NBD: Poisson purchases at λ ~ Gamma(r, α); after each repeat purchase the customer
    /// drops out with probability p ~ Beta(a, b).
    BgNbd { r: f64, alpha: f64, a: f64, b: f64 },
    /// MBG/NBD: as BG/NBD, and the customer may also drop out right after the first purchase.
    MbgNbd { r: f64, alpha: f64, a: f64, b: f64 },
    /// Pareto/NBD: Poisson purchases at λ ~ Gamma(r, α) during an exponential lifetime of rate
    /// μ ~ Gamma(s, β).
    ParetoNbd {
        r: f64,
        alpha: f64,
        s: f64,
        beta: f64,
    },
    /// BG/BB: one purchase opportunity per time unit after the first purchase; a customer drops
    /// out at the start of each opportunity with probability θ ~ Beta(γ, δ) and, if still active,
    /// buys with probability p ~ Beta(α, β). The whole cohort starts together.
    BgBb {
        alpha: f64,
        beta: f64,
        gamma: f64,
        delta: f64,
    },
}

impl PurchaseProcess {
    /// The process of a purchase model (BG/NBD, MBG/NBD, Pareto/NBD or BG/BB), from its
    /// parameters in the model's order; `None` for other models or the wrong number of
    /// parameters.
    pub fn of(kind: ModelKind, p: &[f64]) -> Option<Self> {
        if p.len() != 4 {
            return None;
        }
        Some(match kind {
            ModelKind::BG_NBD => PurchaseProcess::BgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            },
            ModelKind::MBG_NBD => PurchaseProcess::MbgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            },
            ModelKind::PARETO_NBD => PurchaseProcess::ParetoNbd {
                r: p[0],
                alpha: p[1],
                s: p[2],
                beta: p[3],
            },
            ModelKind::BgBb => PurchaseProcess::BgBb {
                alpha: p[0],
                beta: p[1],
                gamma: p[2],
                delta: p[3],
            },
            _ => return None,
        })
    }

    /// Published parameters per week for a model: the CDNOW fits of BG/NBD (Fader, Hardie & Lee
    /// 2005; MBG/NBD takes the same) and Pareto/NBD, and the donations fit of BG/BB.
    pub fn published(kind: ModelKind) -> Option<[f64; 4]> {
        Some(match kind {
            ModelKind::BG_NBD | ModelKind::MBG_NBD => [0.243, 4.414, 0.793, 2.426],
            ModelKind::PARETO_NBD => [0.5534, 10.5802, 0.6061, 11.6562],
            ModelKind::BgBb => [1.204, 0.750, 0.657, 2.783],
            _ => return None,
        })
    }

    fn parameters(&self) -> [(&'static str, f64); 4] {
        match *self {
            PurchaseProcess::BgNbd { r, alpha, a, b }
            | PurchaseProcess::MbgNbd { r, alpha, a, b } => {
                [("r", r), ("alpha", alpha), ("a", a), ("b", b)]
            }
            PurchaseProcess::ParetoNbd { r, alpha, s, beta } => {
                [("r", r), ("alpha", alpha), ("s", s), ("beta", beta)]
            }
            PurchaseProcess::BgBb {
                alpha,
                beta,
                gamma,
                delta,
            } => [
                ("alpha", alpha),
                ("beta", beta),
                ("gamma", gamma),
                ("delta", delta),
            ],
        }
    }

    /// Draws one customer's traits (parameters must be positive, as `simulate` checks).
    pub fn draw_customer(&self, rng: &mut impl Rng) -> Traits {
        fn gamma(shape: f64, rate: f64, rng: &mut impl Rng) -> f64 {
            Gamma::new(shape, 1.0 / rate).expect("positive").sample(rng)
        }
        fn beta(a: f64, b: f64, rng: &mut impl Rng) -> f64 {
            Beta::new(a, b).expect("positive").sample(rng)
        }
        match *self {
            PurchaseProcess::BgNbd { r, alpha, a, b }
            | PurchaseProcess::MbgNbd { r, alpha, a, b } => Traits {
                rate: gamma(r, alpha, rng),
                dropout: beta(a, b, rng),
            },
            PurchaseProcess::ParetoNbd {
                r,
                alpha,
                s,
                beta: b,
            } => Traits {
                rate: gamma(r, alpha, rng),
                dropout: gamma(s, b, rng),
            },
            PurchaseProcess::BgBb {
                alpha,
                beta: b,
                gamma: g,
                delta,
            } => Traits {
                rate: beta(alpha, b, rng),
                dropout: beta(g, delta, rng),
            },
        }
    }

    /// Repeat purchase times in (0, horizon] (model units) of a customer with these traits whose
    /// first purchase was at 0, and whether they are still active at the horizon. BG/BB
    /// opportunities fall at 1, 2, … units, plus `offset` units.
    pub fn repeat_purchases(
        &self,
        traits: Traits,
        horizon: f64,
        offset: f64,
        rng: &mut impl Rng,
    ) -> (Vec<f64>, bool) {
        let mut times = Vec::new();
        let Traits { rate, dropout } = traits;
        match *self {
            PurchaseProcess::BgNbd { .. } | PurchaseProcess::MbgNbd { .. } => {
                if matches!(self, PurchaseProcess::MbgNbd { .. }) && rng.random::<f64>() < dropout {
                    return (times, false);
                }
                let Ok(gap) = Exp::new(rate) else {
                    return (times, true);
                };
                let mut t = 0.0;
                loop {
                    t += gap.sample(rng);
                    if t > horizon {
                        return (times, true);
                    }
                    times.push(t);
                    if rng.random::<f64>() < dropout {
                        return (times, false);
                    }
                }
            }
            PurchaseProcess::ParetoNbd { .. } => {
                let lifetime = Exp::new(dropout).map_or(f64::INFINITY, |e| e.sample(rng));
                let end = lifetime.min(horizon);
                if let Ok(gap) = Exp::new(rate) {
                    let mut t = gap.sample(rng);
                    while t <= end {
                        times.push(t);
                        t += gap.sample(rng);
                    }
                }
                (times, lifetime > horizon)
            }
            PurchaseProcess::BgBb { .. } => {
                let mut k = 1.0;
                while k + offset <= horizon {
                    if rng.random::<f64>() < dropout {
                        return (times, false);
                    }
                    if rng.random::<f64>() < rate {
                        times.push(k + offset);
                    }
                    k += 1.0;
                }
                (times, true)
            }
        }
    }
}

/// One simulated customer's latent traits: the purchase rate λ (BG/BB: the purchase probability
/// p) and the dropout probability p (Pareto/NBD: the dropout rate μ; BG/BB: θ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traits {
    pub rate: f64,
    pub dropout: f64,
}

/// Gamma-Gamma spend parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// Product catalogue settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogueOptions {
    pub skus: usize,
    /// Mean number of distinct products per order (at least one).
    pub lines_per_order: f64,
    /// Share of products that are replenishable (re-bought on a cycle).
    pub replenishable_share: f64,
    /// Share of products with a planted companion bought with them.
    pub paired_share: f64,
    /// Chance that the companion joins a basket holding its product.
    pub pair_probability: f64,
}

impl Default for CatalogueOptions {
    fn default() -> Self {
        CatalogueOptions {
            skus: 200,
            lines_per_order: 2.0,
            replenishable_share: 0.2,
            paired_share: 0.1,
            pair_probability: 0.6,
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOptions {
    pub customers: usize,
    /// Shop-local seconds at which the acquisition window opens.
    pub start: i64,
    pub acquisition_days: f64,
    /// Observation length in days, from `start`.
    pub observation_days: f64,
    /// Unit of the model parameters (α and γ are rates per this unit).
    pub time_unit: TimeUnit,
    pub purchases: PurchaseProcess,
    pub spend: GammaGamma,
    pub catalogue: Option<CatalogueOptions>,
    pub seed: u64,
}

/// One simulated order.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOrder {
    /// 0-based customer number.
    pub customer: u32,
    /// Shop-local seconds.
    pub time: i64,
    /// Order value in currency units, rounded to cents (> 0).
    pub amount: f64,
    /// SKU lines when there is a catalogue; line amounts add up to `amount`.
    pub lines: Vec<SimLine>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimLine {
    pub sku: u32,
    pub quantity: u32,
    pub amount: f64,
}

/// One simulated product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Product {
    pub list_price: f64,
    /// Planted repeat cycle in days for replenishable products.
    pub cycle_days: Option<f64>,
    /// Planted companion product.
    pub companion: Option<u32>,
}

/// The per-customer truth behind the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimCustomer {
    pub traits: Traits,
    pub nu: f64,
    /// Still active at the end of observation.
    pub alive_at_end: bool,
}

/// A simulated log, orders sorted by time as shop exports are.
#[derive(Debug, Clone)]
pub struct SimulatedLog {
    pub orders: Vec<SimOrder>,
    pub customers: Vec<SimCustomer>,
    pub products: Vec<Product>,
}

impl SimulatedLog {
    /// The log as a table: one row per order (`customer_id`, `date`, `amount`), or with a
    /// catalogue one row per SKU line (`customer_id`, `order_id`, `date`, `sku`, `quantity`,
    /// `amount`). Customers are `c` and a zero-padded number, SKUs `sku00001`, ….
    pub fn table(&self) -> Table<'static> {
        let width = self.customers.len().to_string().len();
        let id = |c: u32| format!("c{:0width$}", c + 1);
        if self.products.is_empty() {
            return Table::new()
                .with(
                    "customer_id",
                    Values::text(self.orders.iter().map(|o| id(o.customer)).collect()),
                )
                .with(
                    "date",
                    Values::Date(self.orders.iter().map(|o| o.time).collect()),
                )
                .with(
                    "amount",
                    Values::Float(self.orders.iter().map(|o| o.amount).collect()),
                );
        }
        let (mut customer, mut order, mut date, mut sku, mut quantity, mut amount) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (n, o) in self.orders.iter().enumerate() {
            for l in &o.lines {
                customer.push(id(o.customer));
                order.push(format!("o{}", n + 1));
                date.push(o.time);
                sku.push(sku_name(l.sku as usize));
                quantity.push(l.quantity as i64);
                amount.push(l.amount);
            }
        }
        Table::new()
            .with("customer_id", Values::text(customer))
            .with("order_id", Values::text(order))
            .with("date", Values::Date(date))
            .with("sku", Values::text(sku))
            .with("quantity", Values::Int(quantity))
            .with("amount", Values::Float(amount))
    }

    /// The catalogue with what was planted: `sku`, `list_price`, `cycle_days`, `companion`.
    pub fn catalogue_table(&self) -> Table<'static> {
        let p = &self.products;
        Table::new()
            .with("sku", Values::text((0..p.len()).map(sku_name).collect()))
            .with(
                "list_price",
                Values::Float(p.iter().map(|x| x.list_price).collect()),
            )
            .with(
                "cycle_days",
                Values::MaybeFloat(p.iter().map(|x| x.cycle_days).collect()),
            )
            .with(
                "companion",
                Values::text(
                    p.iter()
                        .map(|x| x.companion.map_or(String::new(), |c| sku_name(c as usize)))
                        .collect(),
                ),
            )
    }
}

fn sku_name(k: usize) -> String {
    format!("sku{:05}", k + 1)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    #[error("{0}")]
    Invalid(String),
}

fn check(name: &str, v: f64) -> Result<(), SimError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SimError::Invalid(format!(
            "{name} must be a positive number, got {v}"
        )))
    }
}

impl SimulationOptions {
    fn validate(&self) -> Result<(), SimError> {
        let GammaGamma { p, q, gamma } = self.spend;
        for (name, v) in self.purchases.parameters() {
            check(name, v)?;
        }
        for (name, v) in [
            ("p", p),
            ("q", q),
            ("gamma", gamma),
            ("observation length", self.observation_days),
        ] {
            check(name, v)?;
        }
        if !(self.acquisition_days >= 0.0 && self.acquisition_days <= self.observation_days) {
            return Err(SimError::Invalid(
                "the acquisition window must fit inside the observation period".into(),
            ));
        }
        if let Some(c) = &self.catalogue {
            if c.skus == 0 {
                return Err(SimError::Invalid(
                    "a catalogue needs at least one SKU".into(),
                ));
            }
            check("lines per order", c.lines_per_order)?;
        }
        Ok(())
    }
}

/// Simulate an order log.
pub fn simulate(options: &SimulationOptions) -> Result<SimulatedLog, SimError> {
    options.validate()?;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let GammaGamma { p, q, gamma } = options.spend;
    let cohort = matches!(options.purchases, PurchaseProcess::BgBb { .. });
    let nu = Gamma::new(q, 1.0 / gamma).expect("validated");
    let unit_days = options.time_unit.days();
    let products = options
        .catalogue
        .as_ref()
        .map(|c| catalogue(c, &mut rng))
        .unwrap_or_default();
    let basket = options
        .catalogue
        .as_ref()
        .map(|c| BasketPicker::new(c, &products));

    let mut orders = Vec::new();
    let mut customers = Vec::with_capacity(options.customers);
    for id in 0..options.customers as u32 {
        let traits = options.purchases.draw_customer(&mut rng);
        let nu_i: f64 = nu.sample(&mut rng);
        let spend = Gamma::new(p, 1.0 / nu_i.max(1e-300)).expect("positive");
        let arrival_days = if cohort {
            0.0
        } else {
            rng.random::<f64>() * options.acquisition_days
        };
        let horizon = (options.observation_days - arrival_days) / unit_days;
        // Purchase times in model units since the first purchase; BG/BB opportunities one day into
        // their period, so each falls in the calendar period it stands for.
        let (repeats, alive) =
            options
                .purchases
                .repeat_purchases(traits, horizon, 1.0 / unit_days, &mut rng);
        let times = std::iter::once(0.0).chain(repeats);
        customers.push(SimCustomer {
            traits,
            nu: nu_i,
            alive_at_end: alive,
        });
        // A customer who dropped out left right after their last purchase.
        let times: Vec<f64> = times.collect();
        let leaves_on = if alive {
            f64::INFINITY
        } else {
            arrival_days + times.last().copied().unwrap_or(0.0) * unit_days
        };
        // Replenishable products this customer re-orders on their own cycle.
        let mut replenishing: Vec<u32> = Vec::new();
        for t in times {
            let day = arrival_days + t * unit_days;
            let amount = cents(spend.sample(&mut rng)).max(0.01);
            let lines = match &basket {
                Some(picker) => picker.lines(amount, &replenishing, &mut rng),
                None => Vec::new(),
            };
            for line in &lines {
                if let Some(cycle) = products[line.sku as usize].cycle_days {
                    if !replenishing.contains(&line.sku) {
                        replenishing.push(line.sku);
                        replenishment_orders(
                            &mut orders,
                            (id, line.sku, products[line.sku as usize].list_price),
                            (day, cycle, leaves_on.min(options.observation_days)),
                            options.start,
                            &mut rng,
                        );
                    }
                }
            }
            orders.push(SimOrder {
                customer: id,
                time: options.start + (day * DAY as f64).floor() as i64,
                amount,
                lines,
            });
        }
    }
    orders.sort_by_key(|o| (o.time, o.customer));
    Ok(SimulatedLog {
        orders,
        customers,
        products,
    })
}

/// Re-orders of a replenishable product after its first purchase on `from` (days): each about one
/// cycle after the last (±10%, normal), 80% of the time, until the customer leaves or observation
/// ends. Each is an order of its own, of one unit at list price, on top of the purchase process.
fn replenishment_orders(
    orders: &mut Vec<SimOrder>,
    (customer, sku, price): (u32, u32, f64),
    (from, cycle, until): (f64, f64, f64),
    start: i64,
    rng: &mut StdRng,
) {
    let jitter = rand_distr::Normal::new(1.0, 0.1).expect("valid");
    let mut day = from;
    loop {
        let factor: f64 = jitter.sample(rng);
        day += cycle * factor.max(0.5);
        if day > until || rng.random::<f64>() >= 0.8 {
            return;
        }
        orders.push(SimOrder {
            customer,
            time: start + (day * DAY as f64).floor() as i64,
            amount: price,
            lines: vec![SimLine {
                sku,
                quantity: 1,
                amount: price,
            }],
        });
    }
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn catalogue(c: &CatalogueOptions, rng: &mut StdRng) -> Vec<Product> {
    let price = LogNormal::new(3.0, 0.6).expect("valid");
    let mut products: Vec<Product> = (0..c.skus)
        .map(|_| Product {
            list_price: cents(price.sample(rng)).max(0.5),
            cycle_days: (rng.random::<f64>() < c.replenishable_share)
                .then(|| rng.random_range(14.0..90.0f64).round()),
            companion: None,
        })
        .collect();
    if c.skus > 1 {
        for (i, product) in products.iter_mut().enumerate() {
            if rng.random::<f64>() < c.paired_share {
                let mut j = rng.random_range(0..c.skus);
                if j == i {
                    j = (j + 1) % c.skus;
                }
                product.companion = Some(j as u32);
            }
        }
    }
    products
}

/// Chooses the products of each order.
struct BasketPicker<'a> {
    products: &'a [Product],
    /// Cumulative Zipf(1) popularity weights.
    cumulative: Vec<f64>,
    extra_lines: Poisson<f64>,
    pair_probability: f64,
}

impl<'a> BasketPicker<'a> {
    fn new(c: &CatalogueOptions, products: &'a [Product]) -> Self {
        let mut total = 0.0;
        let cumulative = (0..products.len())
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0);
                total
            })
            .collect();
        BasketPicker {
            products,
            cumulative,
            extra_lines: Poisson::new((c.lines_per_order - 1.0).max(1e-9)).expect("positive"),
            pair_probability: c.pair_probability,
        }
    }

    fn popular(&self, rng: &mut StdRng) -> u32 {
        let total = *self.cumulative.last().expect("non-empty catalogue");
        let u = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.products.len() - 1) as u32
    }

    /// Lines for a regular order worth `amount`: popular products and their planted companions,
    /// leaving out products the customer already re-orders on their cycle (so those gaps stay
    /// the planted ones).
    fn lines(&self, amount: f64, replenishing: &[u32], rng: &mut StdRng) -> Vec<SimLine> {
        let mut skus: Vec<u32> = Vec::new();
        let wanted = 1 + self.extra_lines.sample(rng) as usize;
        let mut guard = 0;
        while skus.len() < wanted && guard < 10 * wanted {
            guard += 1;
            let sku = self.popular(rng);
            if !skus.contains(&sku) && !replenishing.contains(&sku) {
                skus.push(sku);
            }
        }
        if skus.is_empty() {
            // Everything drawn is being replenished: the most popular product not being.
            let sku = (0..self.products.len() as u32)
                .find(|s| !replenishing.contains(s))
                .unwrap_or(0);
            skus.push(sku);
        }
        let mut k = 0;
        while k < skus.len() {
            if let Some(c) = self.products[skus[k] as usize].companion {
                if !skus.contains(&c)
                    && !replenishing.contains(&c)
                    && rng.random::<f64>() < self.pair_probability
                {
                    skus.push(c);
                }
            }
            k += 1;
        }
        let quantities: Vec<u32> = skus
            .iter()
            .map(|_| if rng.random::<f64>() < 0.8 { 1 } else { 2 })
            .collect();
        let list: Vec<f64> = skus
            .iter()
            .zip(&quantities)
            .map(|(s, q)| self.products[*s as usize].list_price * *q as f64)
            .collect();
        let list_total: f64 = list.iter().sum();
        // The order value comes from the spend model; lines share it in proportion to list prices.
        let mut lines: Vec<SimLine> = Vec::with_capacity(skus.len());
        let mut assigned = 0.0;
        for (i, (&sku, &quantity)) in skus.iter().zip(&quantities).enumerate() {
            let share = if i + 1 == skus.len() {
                cents(amount - assigned)
            } else {
                cents(amount * list[i] / list_total)
            };
            assigned += share;
            lines.push(SimLine {
                sku,
                quantity,
                amount: share,
            });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(customers: usize) -> SimulationOptions {
        SimulationOptions {
            customers,
            start: 0,
            acquisition_days: 84.0,
            observation_days: 364.0,
            time_unit: TimeUnit::Week,
            purchases: PurchaseProcess::BgNbd {
                r: 0.243,
                alpha: 4.414,
                a: 0.793,
                b: 2.426,
            },
            spend: GammaGamma {
                p: 6.25,
                q: 3.74,
                gamma: 15.44,
            },
            catalogue: None,
            seed: 7,
        }
    }

    #[test]
    fn same_seed_same_log_and_every_customer_buys_once() {
        let a = simulate(&options(500)).unwrap();
        let b = simulate(&options(500)).unwrap();
        assert_eq!(a.orders, b.orders);
        let mut first = vec![false; 500];
        for o in &a.orders {
            first[o.customer as usize] = true;
            assert!(o.amount > 0.0);
            assert!(o.time >= 0 && o.time < 364 * DAY);
        }
        assert!(first.iter().all(|&f| f));
        assert!(a.orders.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn mean_order_value_matches_gamma_gamma() {
        // E[z] = p/ν and E[1/ν] = γ/(q−1), so the population mean order value is pγ/(q−1).
        let log = simulate(&options(40_000)).unwrap();
        let mean = log.orders.iter().map(|o| o.amount).sum::<f64>() / log.orders.len() as f64;
        let want = 6.25 * 15.44 / 2.74;
        assert!((mean - want).abs() / want < 0.03, "{mean} vs {want}");
    }

    #[test]
    fn catalogue_lines_add_up_and_pairs_are_planted() {
        let mut o = options(3000);
        o.catalogue = Some(CatalogueOptions {
            skus: 50,
            paired_share: 1.0,
            pair_probability: 1.0,
            // Re-orders are orders of one product; without them every order holds its pairs.
            replenishable_share: 0.0,
            ..Default::default()
        });
        let log = simulate(&o).unwrap();
        for order in &log.orders {
            let total: f64 = order.lines.iter().map(|l| l.amount).sum();
            assert!((total - order.amount).abs() < 1e-6);
            for line in &order.lines {
                let companion = log.products[line.sku as usize].companion.unwrap();
                assert!(order.lines.iter().any(|l| l.sku == companion));
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut o = options(10);
        o.purchases = PurchaseProcess::of(ModelKind::BG_NBD, &[0.2, 4.0, -1.0, 2.0]).unwrap();
        assert!(simulate(&o).is_err());
        o = options(10);
        o.acquisition_days = 400.0;
        assert!(simulate(&o).is_err());
    }
}
