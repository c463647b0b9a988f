//! What clv shows people, built once as data and rendered for each place it is read.
//!
//! - [`view`]: the report as a typed, serialisable view model ([`ReportView`]), built from the
//!   metrics, the valued customers, the holdout comparison and the product analyses.
//! - [`page`]: the view laid out as the report's sections, with its embedded JSON.
//! - [`html`]: the self-contained HTML page and its server-side SVG charts (no script, no network).
//! - [`text`]: terminal pages for the CLI.
//!
//! Nothing here reads files or prints: renderings are returned as strings.

pub mod html;
pub mod page;
pub mod text;
pub mod view;

pub use html::{escape, number, render, Bars, Block, Heatmap, Lines, Report, Section};
pub use view::{build, ReportInputs, ReportView};

/// The report of `view` as one HTML page.
pub fn report_html(view: &ReportView) -> String {
    render(&page::page(view))
}
