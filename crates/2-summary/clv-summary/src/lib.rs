//! From order lines to customer histories, the per-customer summary and shop metrics.
//!
//! - [`ledger`]: streaming accumulation per customer, returns netting, purchase periods.
//! - [`summary`]: lifetimes-compatible `frequency`/`recency`/`T`/`monetary_value` (+ holdout).
//! - [`metrics`]: shop-wide numbers and the cohort retention matrix.
//!
//! Returns policy (also in the README): a line is a return when its amount or quantity is
//! negative. It nets into the order with the same order id in the same window; without an order
//! id, into the customer's latest purchase on or before it in the same window; otherwise it is
//! unmatched and only lowers revenue. A purchase period whose net value ends at zero or below
//! because of returns is not a purchase; a zero-value period without returns (a free order) is.

pub mod ledger;
pub mod metrics;
pub mod summary;

pub use ledger::{
    CustomerHistory, Histories, InOrder, Ledger, LedgerOptions, LedgerStats, PurchasePeriod,
    WindowError, WindowHistory,
};
pub use metrics::{metrics_table, monthly, shop_metrics, MetricsOptions, Month, ShopMetrics};
pub use summary::{
    summarise, summarise_in_periods, summary_chunked, summary_columns, summary_rows, summary_table,
    HoldoutColumns, HoldoutRow, SummaryColumns, SummaryOptions, SummaryRow,
};
