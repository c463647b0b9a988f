//! Who to look after, what to offer and when to remind, from the order history.
//!
//! - [`rfm`]: recency, frequency and monetary scores (quintiles, ties sharing a score) and named
//!   segments from an ordered, overridable rule table.
//! - [`tiers`]: value tiers by predicted CLV and the valuable customers most at risk.
//! - [`replenish`]: each product's typical gap between a customer's repeat purchases, and the
//!   reminders due.
//! - [`basket`]: products bought together: frequent pairs and triples, association rules with
//!   support, confidence and lift, and recommendations per product and per customer.
//!
//! - [`products`]: order lines at product level, interned, from the streaming reader.
//! - [`valued`]: every customer's segment, predictions (from the valuation) and tier.
//! - [`profile`]: one customer's profile.
//! - [`tables`]: the result tables front ends write and show.
//!
//! Everything here works on interned ids (`u32`) and plain numbers; reading files and printing
//! belong to the caller.

pub mod basket;
pub mod products;
pub mod profile;
pub mod replenish;
pub mod rfm;
pub mod tables;
pub mod tiers;
pub mod valued;

pub use valued::{value, Scored, SegmentTotal, Valued, ValuedError};
