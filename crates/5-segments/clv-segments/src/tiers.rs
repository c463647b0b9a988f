//! Value tiers by predicted CLV, and the valuable customers most at risk.
//!
//! Tiers are cumulative shares of customers ranked by predicted CLV, highest first (default top
//! 1%, 5%, 20%, then the rest). A customer's rank is the number of customers worth strictly more,
//! so ties share a tier. The valuable customers at risk are those whose CLV *if they are still
//! active* (predicted CLV / P(alive)) puts them in the top tiers but whose P(alive) is low; they
//! are ranked by the value at risk, (1 − P(alive)) × CLV if active.

/// Tier index of each customer: 0 for the first cutoff (e.g. top 1%), …, `cutoffs.len()` for the
/// rest. `cutoffs` are increasing shares in (0, 1].
pub fn tiers(clv: &[f64], cutoffs: &[f64]) -> Vec<usize> {
    let n = clv.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| clv[b].total_cmp(&clv[a]));
    let mut out = vec![cutoffs.len(); n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && clv[order[end]] == clv[order[start]] {
            end += 1;
        }
        // `start` customers are worth strictly more than this group.
        let share = start as f64 / n as f64;
        let tier = cutoffs
            .iter()
            .position(|&c| share < c)
            .unwrap_or(cutoffs.len());
        for &i in &order[start..end] {
            out[i] = tier;
        }
        start = end;
    }
    out
}

/// Name of tier `k` for these cutoffs: "top 1%", …, "rest".
pub fn tier_name(cutoffs: &[f64], k: usize) -> String {
    match cutoffs.get(k) {
        Some(c) => format!("top {}%", c * 100.0),
        None => "rest".into(),
    }
}

/// Valuable customers at risk: indices of customers whose CLV if active is in the top
/// `valuable_share` and whose P(alive) is below `max_p_alive`, by value at risk, largest first.
pub fn valuable_at_risk(
    predicted_clv: &[f64],
    p_alive: &[f64],
    valuable_share: f64,
    max_p_alive: f64,
) -> Vec<(usize, f64)> {
    let if_active: Vec<f64> = predicted_clv
        .iter()
        .zip(p_alive)
        .map(|(c, p)| if *p > 0.0 { c / p } else { 0.0 })
        .collect();
    let valuable = tiers(&if_active, &[valuable_share]);
    let mut at_risk: Vec<(usize, f64)> = (0..predicted_clv.len())
        .filter(|&i| valuable[i] == 0 && p_alive[i] < max_p_alive)
        .map(|i| (i, (1.0 - p_alive[i]) * if_active[i]))
        .collect();
    at_risk.sort_by(|a, b| b.1.total_cmp(&a.1));
    at_risk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_take_the_top_shares_and_ties_share_a_tier() {
        let clv: Vec<f64> = (0..200).map(f64::from).collect();
        let t = tiers(&clv, &[0.01, 0.05, 0.2]);
        let count = |k| t.iter().filter(|&&x| x == k).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (2, 8, 30, 160));
        assert_eq!(t[199], 0);
        assert_eq!(t[0], 3);
        // Ten customers tied at the top all rank first.
        let tied = vec![5.0; 10];
        assert!(tiers(&tied, &[0.01]).iter().all(|&x| x == 0));
        assert_eq!(tier_name(&[0.01, 0.05], 1), "top 5%");
        assert_eq!(tier_name(&[0.01, 0.05], 2), "rest");
    }

    #[test]
    fn at_risk_ranks_by_value_at_stake() {
        // CLV if active: 100, 90, 10, 80; P(alive): 0.1, 0.9, 0.1, 0.2.
        let p = [0.1, 0.9, 0.1, 0.2];
        let clv = [10.0, 81.0, 1.0, 16.0];
        let got = valuable_at_risk(&clv, &p, 0.75, 0.5);
        let ids: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert_eq!(ids, vec![0, 3]);
        assert!((got[0].1 - 90.0).abs() < 1e-9 && (got[1].1 - 64.0).abs() < 1e-9);
    }
}
