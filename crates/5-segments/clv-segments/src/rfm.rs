//! RFM: recency (days since the last purchase), frequency (purchases) and monetary value (net
//! revenue), each scored 1–5 by quintile, and named segments.
//!
//! Scores use mid-rank percentiles so that ties share a score: a value's percentile is
//! (customers below it + half the customers equal to it) / customers, and its score is
//! ⌊5 · percentile⌋ + 1 (at most 5). Recency is scored the other way round (the most recent get
//! 5). With many ties (most customers buy once) the tied group lands in the quintile its middle
//! falls in, instead of being split arbitrarily as rank-then-cut schemes do.
//!
//! Segments come from an ordered list of rules on the recency score R and FM, the mean of the
//! frequency and monetary scores rounded half up; the first rule that matches names the segment.

/// One customer's RFM inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RfmInput {
    /// Days from the last purchase to the end of observation.
    pub recency_days: f64,
    /// Purchases (orders or purchase periods).
    pub frequency: f64,
    /// Net revenue.
    pub monetary: f64,
}

/// Scores 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RfmScore {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

impl RfmScore {
    /// The mean of F and M rounded half up.
    pub fn fm(&self) -> u8 {
        (self.f + self.m).div_ceil(2)
    }
}

/// Scores for each input, in order.
pub fn scores(inputs: &[RfmInput]) -> Vec<RfmScore> {
    let r = quintiles(&inputs.iter().map(|c| -c.recency_days).collect::<Vec<_>>());
    let f = quintiles(&inputs.iter().map(|c| c.frequency).collect::<Vec<_>>());
    let m = quintiles(&inputs.iter().map(|c| c.monetary).collect::<Vec<_>>());
    (0..inputs.len())
        .map(|i| RfmScore {
            r: r[i],
            f: f[i],
            m: m[i],
        })
        .collect()
}

/// Score 1–5 of each value by mid-rank percentile (higher values score higher).
pub fn quintiles(values: &[f64]) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let percentile = (start as f64 + (end - start) as f64 / 2.0) / n as f64;
        let score = ((5.0 * percentile).floor() as u8 + 1).min(5);
        for &i in &order[start..end] {
            out[i] = score;
        }
        start = end;
    }
    out
}

/// A segment rule: R and FM ranges (inclusive) and what to do with the customers it names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRule {
    pub segment: String,
    pub r_min: u8,
    pub r_max: u8,
    pub fm_min: u8,
    pub fm_max: u8,
    pub action: String,
}

impl SegmentRule {
    pub fn matches(&self, s: RfmScore) -> bool {
        (self.r_min..=self.r_max).contains(&s.r) && (self.fm_min..=self.fm_max).contains(&s.fm())
    }
}

/// The default rules, in order; together they cover all 25 (R, FM) cells.
pub fn default_rules() -> Vec<SegmentRule> {
    let rule = |segment: &str, r: (u8, u8), fm: (u8, u8), action: &str| SegmentRule {
        segment: segment.into(),
        r_min: r.0,
        r_max: r.1,
        fm_min: fm.0,
        fm_max: fm.1,
        action: action.into(),
    };
    vec![
        rule(
            "champions",
            (4, 5),
            (4, 5),
            "reward them: early access, top loyalty tier, ask for reviews and referrals",
        ),
        rule(
            "loyal",
            (3, 5),
            (3, 5),
            "upsell higher-value products; invite to the loyalty programme",
        ),
        rule(
            "cant_lose_them",
            (1, 1),
            (4, 5),
            "win them back personally before a competitor does",
        ),
        rule(
            "at_risk",
            (1, 2),
            (3, 5),
            "reactivate with reminders of what they bought and a personal offer",
        ),
        rule(
            "new",
            (5, 5),
            (1, 1),
            "onboard: thank-you, usage guide, an incentive for the second order",
        ),
        rule(
            "promising",
            (4, 4),
            (1, 1),
            "build the habit: recommendations and a small incentive",
        ),
        rule(
            "potential_loyalists",
            (4, 5),
            (2, 2),
            "offer membership; recommend related products",
        ),
        rule(
            "need_attention",
            (3, 3),
            (2, 2),
            "limited-time offers based on their history",
        ),
        rule(
            "about_to_sleep",
            (3, 3),
            (1, 1),
            "reactivate with popular products and a reminder",
        ),
        rule(
            "hibernating",
            (2, 2),
            (1, 2),
            "low-cost win-back, then stop paid spend",
        ),
        rule(
            "lost",
            (1, 1),
            (1, 2),
            "last-chance win-back, then suppress from paid campaigns",
        ),
    ]
}

/// Why a rule table was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("segment rule `{0}`: scores run from 1 to 5 and min must not exceed max")]
    Range(String),
    #[error("no segment rule covers R = {r}, FM = {fm}; add a rule (or a catch-all 1–5/1–5 last)")]
    Uncovered { r: u8, fm: u8 },
    #[error("segment rules need the columns segment,r_min,r_max,fm_min,fm_max,action ({0})")]
    Format(String),
}

/// A rule table from CSV (`segment,r_min,r_max,fm_min,fm_max,action`, first match wins),
/// checked.
pub fn read_rules(input: impl std::io::Read) -> Result<Vec<SegmentRule>, RuleError> {
    let rules = csv::Reader::from_reader(input)
        .deserialize()
        .collect::<Result<Vec<SegmentRule>, _>>()
        .map_err(|e| RuleError::Format(e.to_string()))?;
    check_rules(&rules)?;
    Ok(rules)
}

/// Checks that every rule is well formed and every (R, FM) cell is covered.
pub fn check_rules(rules: &[SegmentRule]) -> Result<(), RuleError> {
    for rule in rules {
        let ok = |lo: u8, hi: u8| (1..=5).contains(&lo) && (1..=5).contains(&hi) && lo <= hi;
        if !ok(rule.r_min, rule.r_max) || !ok(rule.fm_min, rule.fm_max) {
            return Err(RuleError::Range(rule.segment.clone()));
        }
    }
    for r in 1..=5 {
        for fm in 1..=5 {
            let cell = RfmScore { r, f: fm, m: fm };
            if !rules.iter().any(|rule| rule.matches(cell)) {
                return Err(RuleError::Uncovered { r, fm });
            }
        }
    }
    Ok(())
}

/// Index of the first rule matching `score` (rules checked by [`check_rules`] always match).
pub fn segment_of(rules: &[SegmentRule], score: RfmScore) -> usize {
    rules
        .iter()
        .position(|rule| rule.matches(score))
        .expect("checked rules cover every cell")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, computed the slow way: count below and equal for every value.
    fn naive(values: &[f64]) -> Vec<u8> {
        let n = values.len() as f64;
        values
            .iter()
            .map(|v| {
                let below = values.iter().filter(|w| *w < v).count() as f64;
                let equal = values.iter().filter(|w| *w == v).count() as f64;
                ((5.0 * (below + equal / 2.0) / n).floor() as u8 + 1).min(5)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn quintiles_equal_the_naive_definition(values in prop::collection::vec(0u8..12, 1..200)) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            prop_assert_eq!(quintiles(&values), naive(&values));
        }

        #[test]
        fn higher_values_never_score_lower(values in prop::collection::vec(-1e3f64..1e3, 1..100)) {
            let s = quintiles(&values);
            for i in 0..values.len() {
                for j in 0..values.len() {
                    if values[i] < values[j] {
                        prop_assert!(s[i] <= s[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn distinct_values_fill_the_quintiles_evenly() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let s = quintiles(&values);
        for k in 1..=5u8 {
            assert_eq!(s.iter().filter(|&&x| x == k).count(), 20);
        }
    }

    #[test]
    fn default_rules_cover_every_cell_and_bad_tables_are_refused() {
        assert_eq!(check_rules(&default_rules()), Ok(()));
        let mut rules = default_rules();
        rules.retain(|r| r.segment != "lost");
        assert_eq!(
            check_rules(&rules),
            Err(RuleError::Uncovered { r: 1, fm: 1 })
        );
        rules[0].r_min = 6;
        assert!(matches!(check_rules(&rules), Err(RuleError::Range(_))));
    }
}
