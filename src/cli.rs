//! Command-line arguments, and turning the model names users type into typed model kinds.

use clap::{Args, Parser, Subcommand};
use clv_data::{Period, TimeUnit};
use clv_models::{ModelKind, PurchaseModel};
use clv_parquet::TableFormat;
use clv_score::ModelChoice;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "clv",
    version,
    about = "Customer lifetime value from a shop's order history",
    long_about = "Customer lifetime value from a shop's order history.\n\nStart with `clv demo`; then point `clv summary` or `clv metrics` at your own CSV or Parquet export."
)]
pub struct Cli {
    /// Log what clv is doing to stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Threads to use (default: every core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Per-customer summary: frequency, recency, T, monetary_value (lifetimes semantics), revenue.
    Summary(SummaryArgs),
    /// Shop-wide metrics: order value, frequency, repeat rate, retention, cohorts, historic CLV.
    Metrics(MetricsArgs),
    /// Fit a purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, sBG) or the Gamma-Gamma spend
    /// model by maximum likelihood.
    Fit(FitArgs),
    /// Score every customer: P(alive), expected purchases and spend, discounted CLV, next order date.
    Score(ScoreArgs),
    /// Compare purchase models on a holdout: fit on the calibration window, predict the rest.
    Validate(ValidateArgs),
    /// Subscription retention: fit sBG to a cohort survival curve and project it.
    Retention(RetentionArgs),
    /// RFM scores and named segments, value tiers, and the valuable customers most at risk.
    Segments(SegmentsArgs),
    /// One customer's profile: history, segment, tier, predictions, favourite products.
    Customer(CustomerArgs),
    /// Each product's repeat-purchase cycle, and the replenishment reminders due.
    Replenish(ReplenishArgs),
    /// Products bought together: association rules, bundles, recommendations.
    CrossSell(CrossSellArgs),
    /// One self-contained HTML report: metrics, cohorts, segments, models, holdout, value,
    /// reminders and products bought together.
    Report(ReportArgs),
    /// Write a synthetic order log from known purchase and Gamma-Gamma spend parameters.
    Simulate(SimulateArgs),
    /// Run the retention service: API, ingest and rescoring on SQLite or PostgreSQL.
    Serve(ServeArgs),
    /// Import a shop's order history into the service's store (a backfill: triggers nothing).
    Import(ImportArgs),
    /// Manage the service's shops.
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Look after the service's store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// A shop's journeys on the service's store: the built-in library, enable or disable one,
    /// save a definition from a file, and list them with their run and message counts.
    #[command(subcommand)]
    Journeys(JourneysCommand),
    /// Every analysis on the bundled CDNOW sample and a simulated shop, then what to try next.
    ///
    /// On the CDNOW sample (2,357 customers, 1997-01 to 1998-06): the read report, summary,
    /// shop metrics and cohorts, BG/NBD, MBG/NBD and Pareto/NBD compared on a holdout, scores
    /// with intervals, RFM segments, value tiers and valuable customers at risk, and the HTML
    /// report; on a simulated shop with SKUs: replenishment reminders and products bought
    /// together. The data and the report are written to the temp folder (clv-demo); the last
    /// lines are commands to run next on them.
    Demo,
}

/// Where the orders are and how to read them.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Order log: CSV/TSV/whitespace-separated text, or Parquet (by extension or --input-format).
    pub orders: PathBuf,
    /// csv or parquet; by default from the file extension (.parquet/.pq is Parquet).
    #[arg(long)]
    pub input_format: Option<clv_parquet::Format>,
    /// Field separator: ',', tab, ';', '|' or whitespace. Detected when not given.
    #[arg(long)]
    pub delimiter: Option<clv_data::Delimiter>,
    /// The first row is a header (detected when neither --header nor --no-header is given).
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// The first row is data.
    #[arg(long)]
    pub no_header: bool,
    /// Customer id column: header name or 1-based position.
    #[arg(long, value_name = "NAME|N")]
    pub customer_col: Option<String>,
    /// Order date/time column.
    #[arg(long, value_name = "NAME|N")]
    pub date_col: Option<String>,
    /// Order (line) amount column; negative for returns.
    #[arg(long, value_name = "NAME|N")]
    pub amount_col: Option<String>,
    /// Order id column: lines of one order merge, and refunds net into their order.
    #[arg(long, value_name = "NAME|N")]
    pub order_col: Option<String>,
    /// Product/SKU column.
    #[arg(long, value_name = "NAME|N")]
    pub sku_col: Option<String>,
    /// Quantity column (negative marks a return); amount = quantity × price without an amount column.
    #[arg(long, value_name = "NAME|N")]
    pub quantity_col: Option<String>,
    /// Unit price column.
    #[arg(long, value_name = "NAME|N")]
    pub price_col: Option<String>,
    /// Product description column, shown beside SKUs (detected: description, title, product name).
    #[arg(long, value_name = "NAME|N")]
    pub description_col: Option<String>,
    /// strftime format of the dates when they are not ISO 8601 or yyyymmdd (e.g. %d/%m/%Y).
    #[arg(long)]
    pub date_format: Option<String>,
    /// IANA time zone of the shop: naive timestamps are in it, offsets are converted to it.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Amounts use a decimal comma (12,50; 1.234,50). By default the amounts decide (README).
    #[arg(long, conflicts_with = "decimal_point")]
    pub decimal_comma: bool,
    /// Amounts use a decimal point (12.50; 1,234.50).
    #[arg(long)]
    pub decimal_point: bool,
    /// Text encoding: utf-8 or latin1 (windows-1252). Detected when not given; .gz and .zst unpack.
    #[arg(long)]
    pub encoding: Option<clv_data::Encoding>,
    /// Keep only rows where COLUMN compares so (`status != cancelled`, `channel = web`); repeatable.
    #[arg(long = "where", value_name = "COLUMN OP VALUE")]
    pub filters: Vec<clv_data::RowFilter>,
    /// Leave out test orders (rows whose test, is_test or test_order column is true).
    #[arg(long)]
    pub exclude_test: bool,
    /// CSV whose first column is the customer id in the orders and second the person it stands for.
    #[arg(long, value_name = "FILE")]
    pub customer_map: Option<PathBuf>,
    /// Write every rejected row (file, line, column, value, reason) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Stop at the first bad row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// Last day (inclusive) of the observation; later orders are left out and counted.
    /// Default: the last order in the data.
    #[arg(long, value_name = "DATE")]
    pub observation_end: Option<String>,
}

/// Where and how to write a result.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// table (terminal), csv, json or parquet. Default: from the -o extension, else table.
    #[arg(long)]
    pub format: Option<TableFormat>,
    /// Output file (stdout when absent; required for parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Unit of recency, T and durations: week, as `fit`, `score` and `validate` (lifetimes'
    /// default is day: --time-unit day).
    #[arg(long, default_value = "week")]
    pub time_unit: TimeUnit,
    /// Purchases of a customer in the same period count once (default: day; hour with --time-unit hour).
    #[arg(long)]
    pub period: Option<Period>,
    /// Split here: the summary covers orders up to this day, `_holdout` columns the rest.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// Count the first purchase in monetary_value.
    #[arg(long)]
    pub include_first: bool,
}

#[derive(Args, Debug)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Length of the retention/churn windows (e.g. 90d, 12w, 3m).
    #[arg(long, default_value = "90d", value_parser = whole_days)]
    pub window: i32,
    /// Customer acquisition cost, to report LTV:CAC.
    #[arg(long)]
    pub cac: Option<f64>,
}

/// Parses a length of time (`90d`, `12w`, `3m`, or a bare number of days) into whole days.
fn whole_days(text: &str) -> Result<i32, clv_data::TimeError> {
    Ok(clv_data::time::parse_days(text)?.round() as i32)
}

/// Parses `clv simulate --purchase-model`: a model with a simulator.
fn simulated_model(text: &str) -> Result<ModelKind, String> {
    match text.parse::<ModelKind>().map_err(|e| e.to_string())? {
        k @ (ModelKind::Purchase(_) | ModelKind::BgBb) => Ok(k),
        _ => Err("simulate draws purchases from bgnbd, mbgnbd, pareto or bgbb".into()),
    }
}

/// The purchase model and what to predict, shared by scoring, segments, profiles and the report.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Purchase model: mbgnbd (default: one-time buyers can be inactive), bgnbd, pareto (also
    /// bg-nbd, mbg-nbd, pnbd, pareto-nbd) or auto (lowest BIC).
    #[arg(long, default_value = "mbgnbd")]
    pub model: ModelChoice,
    /// Time unit for fitting (a saved model keeps its own).
    #[arg(long, default_value = "week")]
    pub time_unit: TimeUnit,
    /// How far ahead to predict (e.g. 365d, 52w, 12m).
    #[arg(long, default_value = "365d")]
    pub horizon: String,
    /// Annual discount rate for CLV (10% or 0.1).
    #[arg(long, default_value = "10%")]
    pub discount_rate: String,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Saved model(s) from `clv fit -o`: a purchase model and/or a spend model. Given models are
    /// used as they are (no refit); missing ones are fitted on this data.
    #[arg(long, value_name = "FILE")]
    pub model_file: Vec<PathBuf>,
    /// continuous (each purchase discounted at its expected time), or lifetimes (lifetimes' monthly
    /// steps and month lengths, for comparing with that package).
    #[arg(long, default_value = "continuous")]
    pub discounting: clv_score::Discounting,
    /// L2 penalty for the models fitted here (see `clv fit --penalty`).
    #[arg(long, default_value_t = 0.0)]
    pub penalty: f64,
    /// Intervals on every prediction from parameter uncertainty: delta (delta method from the
    /// fit's covariance), bootstrap (refit to data simulated from the fitted models), or none.
    #[arg(long, default_value = "delta")]
    pub intervals: clv_score::Intervals,
    /// Coverage of the `_lower`/`_upper` columns.
    #[arg(long, default_value_t = 0.9)]
    pub level: f64,
    /// Refits for --intervals bootstrap.
    #[arg(long, default_value_t = 100)]
    pub draws: usize,
    /// Random seed for --intervals bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// bgnbd, mbgnbd, pareto, gg (Gamma-Gamma spend), bgbb, sbg or auto; bg-nbd, mbg-nbd, pnbd,
    /// pareto-nbd and gamma-gamma are accepted too.
    #[arg(long)]
    pub model: clv_score::FitTarget,
    /// Unit the model's time parameters are in.
    #[arg(long, default_value = "week")]
    pub time_unit: TimeUnit,
    /// Fit on orders up to this day only (the rest is a holdout for later validation).
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// BG/BB from an order log: the length of one purchase opportunity (default year); sBG from
    /// one row per subscriber: the renewal period (default month). day, week, month or year.
    #[arg(long)]
    pub period: Option<String>,
    /// Save the fitted model as versioned JSON.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// L2 penalty λ·Σθ² per customer on the parameters (0: plain maximum likelihood).
    #[arg(long, default_value_t = 0.0)]
    pub penalty: f64,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Output file (.csv or .parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// csv or parquet; by default from the extension.
    #[arg(long)]
    pub format: Option<clv_parquet::Format>,
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day of the acquisition window.
    #[arg(long, default_value = "2024-01-01")]
    pub start: String,
    /// Customers arrive uniformly over this window.
    #[arg(long, default_value = "12w")]
    pub acquisition: String,
    /// Observation length from the start.
    #[arg(long, default_value = "52w")]
    pub observation: String,
    /// Unit the rate parameters (alpha, gamma) refer to.
    #[arg(long, default_value = "week")]
    pub time_unit: TimeUnit,
    /// Purchase process: bgnbd, mbgnbd, pareto, or bgbb (one purchase opportunity per
    /// --time-unit; the whole cohort starts on --start).
    #[arg(long, value_parser = simulated_model, default_value = "bgnbd")]
    pub purchase_model: ModelKind,
    /// The purchase model's parameters in `clv fit`'s order, per --time-unit (r,alpha,a,b; …).
    /// Default: the published CDNOW fits (BG/NBD, Pareto/NBD), the donations fit (BG/BB).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub params: Vec<f64>,
    /// Gamma-Gamma p (shape of each order's value).
    #[arg(long, default_value_t = 6.25)]
    pub p: f64,
    /// Gamma-Gamma q (shape of the spend-rate gamma).
    #[arg(long, default_value_t = 3.74)]
    pub q: f64,
    /// Gamma-Gamma gamma (scale of the spend-rate gamma).
    #[arg(long, default_value_t = 15.44)]
    pub gamma: f64,
    /// Give orders SKU lines from a catalogue of this many products (one row per line).
    #[arg(long)]
    pub skus: Option<usize>,
    /// Mean products per order with --skus.
    #[arg(long, default_value_t = 2.0)]
    pub lines_per_order: f64,
    /// With --skus: share of products re-ordered on a planted cycle.
    #[arg(long, default_value_t = 0.2)]
    pub replenishable_share: f64,
    /// With --skus: share of products with a planted companion product.
    #[arg(long, default_value_t = 0.1)]
    pub paired_share: f64,
    /// With --skus: also write the catalogue (sku, list_price, cycle_days, companion): the
    /// planted repeat cycles and products bought together, to check what clv recovers.
    #[arg(long, value_name = "FILE", requires = "skus")]
    pub catalogue: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Last day of the calibration window; the holdout runs from the next day to the observation end.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: String,
    /// Models to compare.
    #[arg(long, value_delimiter = ',', default_value = "bgnbd,mbgnbd,pareto")]
    pub models: Vec<PurchaseModel>,
    /// Unit the models' time parameters are in.
    #[arg(long, default_value = "week")]
    pub time_unit: TimeUnit,
    /// table: the comparison as text; json: every series in full, nested; csv and parquet: one
    /// row per model, measure and group.
    #[command(flatten)]
    pub output: OutputArgs,
    /// L2 penalty for the fits (see `clv fit --penalty`).
    #[arg(long, default_value_t = 0.0)]
    pub penalty: f64,
}

#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Survival curve: a column of counts or shares still subscribed at the start of each period,
    /// the cohort size first (header optional; a column named alive/active/customers is used);
    /// or one row per subscriber with `start` and `end` date columns (end empty while subscribed).
    pub curve: PathBuf,
    /// Project this many periods.
    #[arg(long, default_value_t = 12)]
    pub periods: u32,
    /// Price per period, for residual value per subscriber.
    #[arg(long)]
    pub price: Option<f64>,
    /// Discount rate per period for residual lifetime and value (10% or 0.1).
    #[arg(long, default_value = "1%")]
    pub discount_rate: String,
    /// With one row per subscriber (start and end columns): the renewal period.
    #[arg(long, default_value = "month")]
    pub period: String,
    /// With one row per subscriber: the day observation ends (default: the last date in the file).
    #[arg(long, value_name = "DATE")]
    pub observation_end: Option<String>,
}

/// How customers are valued for tiers and profiles.
#[derive(Args, Debug, Clone)]
pub struct ValuationArgs {
    #[command(flatten)]
    pub models: ModelArgs,
    /// Value tiers: cumulative top shares of customers by predicted CLV, in per cent.
    #[arg(long, value_delimiter = ',', default_value = "1,5,20")]
    pub tiers: Vec<f64>,
    /// Segment rules CSV (segment,r_min,r_max,fm_min,fm_max,action), first match wins; default:
    /// the built-in table in the README.
    #[arg(long, value_name = "FILE")]
    pub segment_rules: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SegmentsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub valuation: ValuationArgs,
    /// Customers listed as valuable and at risk.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Args, Debug)]
pub struct CustomerArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The customer id.
    pub customer: String,
    #[command(flatten)]
    pub valuation: ValuationArgs,
}

#[derive(Args, Debug)]
pub struct ReplenishArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The day to plan from; purchases after it are ignored. Default: the last date in the data.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// List reminders to send from --as-of up to this long after it.
    #[arg(long, default_value = REMINDER_WINDOW, value_parser = whole_days)]
    pub window: i32,
    /// Remind this long before the purchase is due.
    #[arg(long, default_value = REMINDER_LEAD_TIME, value_parser = whole_days)]
    pub lead_time: i32,
    /// Gaps (repeat purchases) a product needs before it gets a cycle.
    #[arg(long, default_value_t = MIN_REPEATS)]
    pub min_repeats: usize,
    /// Reminders one customer gets in the window at most (their strongest habits first); 0 for
    /// no cap.
    #[arg(long, default_value_t = REMINDERS_PER_CUSTOMER)]
    pub per_customer: usize,
    /// Also write each product's cycle (median gap, quartiles, evidence) to this file.
    #[arg(long, value_name = "FILE")]
    pub cycles: Option<PathBuf>,
}

// Defaults of `clv replenish` and `clv cross-sell`: the report's product sections use the same
// (`clv_report::view`), which a test checks.
pub const REMINDER_WINDOW: &str = "14d";
pub const REMINDER_LEAD_TIME: &str = "3d";
use clv_report::view::{
    MIN_CONFIDENCE, MIN_LIFT, MIN_REPEATS, MIN_SUPPORT, REMINDERS_PER_CUSTOMER,
};

#[derive(Args, Debug)]
pub struct CrossSellArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Minimum share of baskets holding an itemset.
    #[arg(long, default_value_t = MIN_SUPPORT)]
    pub min_support: f64,
    /// Minimum confidence of a rule.
    #[arg(long, default_value_t = MIN_CONFIDENCE)]
    pub min_confidence: f64,
    /// Minimum lift of a rule.
    #[arg(long, default_value_t = MIN_LIFT)]
    pub min_lift: f64,
    /// Recommendations per product and per customer.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Write each customer's top products not bought yet to this file.
    #[arg(long, value_name = "FILE")]
    pub recommendations: Option<PathBuf>,
    /// Write each product's top products bought with it to this file.
    #[arg(long, value_name = "FILE")]
    pub bought_with: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also fit on orders up to this day and compare the models with what happened after it.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    #[command(flatten)]
    pub valuation: ValuationArgs,
    /// Length of the retention window (as `clv metrics --window`).
    #[arg(long, default_value = "90d", value_parser = whole_days)]
    pub window: i32,
    /// Customer acquisition cost, for LTV:CAC.
    #[arg(long)]
    pub cac: Option<f64>,
    /// ISO 4217 code of the amounts (EUR, USD, JPY), named on the report.
    #[arg(long, value_name = "CODE", value_parser = currency_code)]
    pub currency: Option<String>,
}

/// A currency code as ISO 4217 writes it: three letters, upper-cased.
fn currency_code(code: &str) -> Result<String, String> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(format!(
            "`{code}` is not a currency code: give the three letters of ISO 4217 (EUR, USD, GBP)"
        ))
    }
}

/// The service's database: a SQLite file (created on first use) or `postgres://…`.
#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// Default: clv-data/clv.db (or the config file's `database`).
    #[arg(long, env = "CLV_DATABASE", value_name = "URL|FILE")]
    pub database: Option<String>,
}

impl DatabaseArgs {
    /// The database asked for, else the default.
    pub fn url(&self) -> &str {
        self.database.as_deref().unwrap_or(clv_serve::settings::DEFAULT_DATABASE)
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// A TOML file with any of `database`, `listen`, `rescore_every`, `rate_limit`, `public_url`; flags and
    /// environment variables take precedence over it.
    #[arg(long, env = "CLV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0: any free port, printed at start). Default 127.0.0.1:8080.
    #[arg(long, env = "CLV_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
    /// Refit and rescore every shop this often (e.g. 24h); default only on POST /api/v1/rescore.
    #[arg(long, env = "CLV_RESCORE_EVERY", value_name = "DURATION")]
    pub rescore_every: Option<String>,
    /// Requests a second each API key may make (bursts of a second's worth); a batch is one.
    /// Default 1000.
    #[arg(long, env = "CLV_RATE_LIMIT", value_name = "N")]
    pub rate_limit: Option<f64>,
    /// The address customers reach the service at (unsubscribe links in messages point there),
    /// e.g. https://mail.shop.example. Default: the listening address.
    #[arg(long, env = "CLV_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Start on a fresh demo store in the temp folder: the CDNOW sample imported and scored into
    /// shop `demo`; prints the URL and an admin key.
    #[arg(long, conflicts_with = "database")]
    pub demo: bool,
    /// Log as JSON lines (for a log collector) instead of text.
    #[arg(long, env = "CLV_LOG_JSON")]
    pub log_json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ShopCommand {
    /// Add a dashboard user to a shop: the password is read from CLV_PASSWORD or, when that is
    /// not set, from the first line of standard input (never from the command line).
    User {
        name: String,
        email: String,
        /// read, write or admin.
        #[arg(long, default_value = "admin")]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make another API key for a shop (e.g. when its admin key is lost) and print it once.
    Key {
        name: String,
        /// read, write or admin.
        #[arg(long, default_value = "admin")]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Create a shop and print its first admin API key (shown once).
    Create {
        name: String,
        /// IANA time zone the shop counts its days in.
        #[arg(long)]
        timezone: String,
        /// ISO 4217 code of the currency its money is kept in.
        #[arg(long)]
        currency: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The shop (by name) the history belongs to; its time zone reads naive timestamps.
    #[arg(long)]
    pub shop: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum JourneysCommand {
    /// The built-in journeys any shop can enable.
    Library,
    /// The shop's journeys: version, on or off, runs by status, messages by status and reason.
    List {
        #[arg(long)]
        shop: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Switch a journey on (a built-in one is saved for the shop first).
    Enable {
        id: String,
        #[arg(long)]
        shop: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Switch a journey off: no new runs; runs under way finish.
    Disable {
        id: String,
        #[arg(long)]
        shop: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Save a definition (JSON) as the next version of its journey; mistakes are reported with
    /// their line and column.
    Save {
        file: PathBuf,
        #[arg(long)]
        shop: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Run the database's integrity checks; exits non-zero on a problem.
    Check {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}
