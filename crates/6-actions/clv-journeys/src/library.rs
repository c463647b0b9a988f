//! The built-in journeys: ready definitions for the post-purchase playbook, enabled per shop
//! with one command (`clv journeys enable ID`). Each is an ordinary definition (the files under
//! `library/`), so a shop can export one, edit it and save it back as its own.

use crate::{Journey, JourneyError};

/// The built-in definitions, by id.
pub const BUILT_IN: [(&str, &str); 7] = [
    ("thank-you", include_str!("../library/thank-you.json")),
    (
        "shipping-update",
        include_str!("../library/shipping-update.json"),
    ),
    ("usage-guide", include_str!("../library/usage-guide.json")),
    ("cross-sell", include_str!("../library/cross-sell.json")),
    (
        "review-request",
        include_str!("../library/review-request.json"),
    ),
    (
        "cart-abandonment",
        include_str!("../library/cart-abandonment.json"),
    ),
    ("win-back", include_str!("../library/win-back.json")),
];

/// The built-in journey `id`, parsed.
pub fn built_in(id: &str) -> Option<Result<Journey, JourneyError>> {
    BUILT_IN
        .iter()
        .find(|(name, _)| *name == id)
        .map(|(_, text)| Journey::parse(text))
}
