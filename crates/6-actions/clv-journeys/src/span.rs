//! Durations as people write them in a definition: `90s`, `15m`, `4h`, `3d`, `2w`.

use serde::{Deserialize, Serialize};

/// A length of time, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub i64);

impl Span {
    pub const fn seconds(self) -> i64 {
        self.0
    }
}

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: i64 = number.parse().map_err(|_| {
            format!("`{text}` is not a duration: write a whole number and a unit, as in 30m, 4h, 3d or 2w")
        })?;
        let unit = match unit.trim() {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a unit: use s, m, h, d or w"
                ))
            }
        };
        number
            .checked_mul(unit)
            .filter(|s| *s <= 10 * 366 * 86_400)
            .map(Span)
            .ok_or_else(|| format!("`{text}` is longer than ten years"))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s != 0 && s % size == 0 {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
