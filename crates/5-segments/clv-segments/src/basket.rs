//! Products bought together: frequent pairs and triples over baskets, and association rules.
//!
//! For itemsets X and Y: support(X) = baskets containing X / all baskets; a rule X → Y has
//! support(X ∪ Y), confidence = support(X ∪ Y) / support(X) and lift = confidence / support(Y),
//! as mlxtend's `association_rules` defines them. Frequent itemsets are found level by level
//! (apriori): pairs are counted only among frequent items, triples only where all three pairs are
//! frequent, so cost follows the frequent structure, not all combinations. Every basket counts
//! in the denominator, including baskets of one item (which can form no pair).

use rustc_hash::FxHashMap;

/// Baskets as a compact list: basket b holds `items[offsets[b]..offsets[b + 1]]`, each item once,
/// sorted.
#[derive(Debug, Clone, Default)]
pub struct Baskets {
    offsets: Vec<usize>,
    items: Vec<u32>,
    item_count: usize,
}

impl Baskets {
    /// Baskets from (basket, item) pairs in any order; repeated items in a basket count once.
    pub fn from_pairs(mut pairs: Vec<(u32, u32)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let mut offsets = vec![0];
        let mut items = Vec::with_capacity(pairs.len());
        let mut item_count = 0;
        for (k, &(basket, item)) in pairs.iter().enumerate() {
            if k > 0 && pairs[k - 1].0 != basket {
                offsets.push(items.len());
            }
            items.push(item);
            item_count = item_count.max(item as usize + 1);
        }
        if !items.is_empty() {
            offsets.push(items.len());
        }
        Baskets {
            offsets,
            items,
            item_count,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn basket(&self, b: usize) -> &[u32] {
        &self.items[self.offsets[b]..self.offsets[b + 1]]
    }
}

/// A frequent itemset (items sorted) and the number of baskets holding it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Itemset {
    pub items: Vec<u32>,
    pub count: u64,
}

/// Item counts and the frequent pairs and triples.
#[derive(Debug, Clone, Default)]
pub struct Frequent {
    pub baskets: u64,
    /// Baskets holding each item.
    pub item_counts: Vec<u64>,
    pub pairs: FxHashMap<(u32, u32), u64>,
    pub triples: FxHashMap<(u32, u32, u32), u64>,
}

impl Frequent {
    pub fn support(&self, count: u64) -> f64 {
        count as f64 / self.baskets as f64
    }

    /// Baskets holding all of `items` (sorted; 1 to 3 items, each subset of a frequent set).
    fn count(&self, items: &[u32]) -> u64 {
        match *items {
            [a] => self.item_counts[a as usize],
            [a, b] => self.pairs.get(&(a, b)).copied().unwrap_or(0),
            [a, b, c] => self.triples.get(&(a, b, c)).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// Frequent itemsets of two or more items, most frequent first.
    pub fn itemsets(&self) -> Vec<Itemset> {
        let mut sets: Vec<Itemset> = self
            .pairs
            .iter()
            .map(|(&(a, b), &count)| Itemset {
                items: vec![a, b],
                count,
            })
            .chain(self.triples.iter().map(|(&(a, b, c), &count)| Itemset {
                items: vec![a, b, c],
                count,
            }))
            .collect();
        sets.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.items.cmp(&y.items)));
        sets
    }
}

/// Counts items, then the pairs and (if `max_len` ≥ 3) triples with at least `min_support`, the
/// baskets split over `threads` threads (0 and 1: the calling thread).
pub fn frequent(baskets: &Baskets, min_support: f64, max_len: usize, threads: usize) -> Frequent {
    let n = baskets.len() as u64;
    // At least one basket, whatever the threshold.
    let min_count = ((min_support * n as f64).ceil() as u64).max(1);
    let mut item_counts = vec![0u64; baskets.item_count];
    for &i in &baskets.items {
        item_counts[i as usize] += 1;
    }
    let frequent_item: Vec<bool> = item_counts.iter().map(|&c| c >= min_count).collect();
    let mut pairs = count_in_parallel(
        baskets,
        threads,
        |basket, counts: &mut FxHashMap<(u32, u32), u64>| {
            let kept: Vec<u32> = basket
                .iter()
                .copied()
                .filter(|&i| frequent_item[i as usize])
                .collect();
            for (k, &a) in kept.iter().enumerate() {
                for &b in &kept[k + 1..] {
                    *counts.entry((a, b)).or_default() += 1;
                }
            }
        },
    );
    pairs.retain(|_, c| *c >= min_count);
    let mut triples = FxHashMap::default();
    if max_len >= 3 && !pairs.is_empty() {
        let in_pair = |a: u32, b: u32| pairs.contains_key(&(a, b));
        triples = count_in_parallel(
            baskets,
            threads,
            |basket, counts: &mut FxHashMap<(u32, u32, u32), u64>| {
                let kept: Vec<u32> = basket
                    .iter()
                    .copied()
                    .filter(|&i| frequent_item[i as usize])
                    .collect();
                for (x, &a) in kept.iter().enumerate() {
                    for (y, &b) in kept.iter().enumerate().skip(x + 1) {
                        if !in_pair(a, b) {
                            continue;
                        }
                        for &c in &kept[y + 1..] {
                            if in_pair(a, c) && in_pair(b, c) {
                                *counts.entry((a, b, c)).or_default() += 1;
                            }
                        }
                    }
                }
            },
        );
        triples.retain(|_, c| *c >= min_count);
    }
    Frequent {
        baskets: n,
        item_counts,
        pairs,
        triples,
    }
}

/// `count` over every basket, the baskets split across `threads` threads (the calling thread
/// takes the first share), the per-thread maps summed.
fn count_in_parallel<K: std::hash::Hash + Eq + Send>(
    baskets: &Baskets,
    threads: usize,
    count: impl Fn(&[u32], &mut FxHashMap<K, u64>) + Sync,
) -> FxHashMap<K, u64> {
    let threads = threads.max(1);
    let n = baskets.len();
    let size = n.div_ceil(threads).max(1);
    let count = &count;
    let share = move |from: usize| {
        let mut counts = FxHashMap::default();
        for b in from..(from + size).min(n) {
            count(baskets.basket(b), &mut counts);
        }
        counts
    };
    let parts: Vec<FxHashMap<K, u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (size..n)
            .step_by(size)
            .map(|from| scope.spawn(move || share(from)))
            .collect();
        let mut parts = vec![share(0)];
        parts.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("counting worker panicked")),
        );
        parts
    });
    let mut total = FxHashMap::default();
    for part in parts {
        for (k, c) in part {
            *total.entry(k).or_default() += c;
        }
    }
    total
}

/// An association rule X → Y.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rule {
    pub antecedent: Vec<u32>,
    pub consequent: Vec<u32>,
    pub antecedent_support: f64,
    pub consequent_support: f64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

/// Every rule from the frequent pairs and triples (each split into a non-empty antecedent and
/// consequent) with at least `min_confidence` and `min_lift`, strongest lift first (then
/// confidence, then support).
pub fn rules(frequent: &Frequent, min_confidence: f64, min_lift: f64) -> Vec<Rule> {
    let mut out = Vec::new();
    for set in frequent.itemsets() {
        let items = &set.items;
        let k = items.len();
        // Every non-empty proper subset as antecedent, by bit mask.
        for mask in 1..(1u32 << k) - 1 {
            let (antecedent, consequent): (Vec<u32>, Vec<u32>) = {
                let mut a = Vec::new();
                let mut c = Vec::new();
                for (bit, &item) in items.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        a.push(item);
                    } else {
                        c.push(item);
                    }
                }
                (a, c)
            };
            // From the counts, one rounding each, so a rule exactly at a threshold (7 of 140
            // baskets = 5%) compares as exactly there.
            let (both, a, c) = (
                set.count as f64,
                frequent.count(&antecedent) as f64,
                frequent.count(&consequent) as f64,
            );
            let support = frequent.support(set.count);
            let antecedent_support = frequent.support(a as u64);
            let consequent_support = frequent.support(c as u64);
            let confidence = both / a;
            let lift = both * frequent.baskets as f64 / (a * c);
            if confidence >= min_confidence && lift >= min_lift {
                out.push(Rule {
                    antecedent,
                    consequent,
                    antecedent_support,
                    consequent_support,
                    support,
                    confidence,
                    lift,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(b.support.total_cmp(&a.support))
            .then_with(|| (&a.antecedent, &a.consequent).cmp(&(&b.antecedent, &b.consequent)))
    });
    out
}

/// For each item, up to `top` single-item rules item → other, as they rank in `rules`.
pub fn bought_with(rules: &[Rule], top: usize) -> FxHashMap<u32, Vec<&Rule>> {
    let mut by_item: FxHashMap<u32, Vec<&Rule>> = FxHashMap::default();
    for rule in rules {
        if let ([a], [_]) = (rule.antecedent.as_slice(), rule.consequent.as_slice()) {
            let list = by_item.entry(*a).or_default();
            if list.len() < top {
                list.push(rule);
            }
        }
    }
    by_item
}

/// A product to suggest to a customer, and the product they bought that suggests it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suggestion {
    pub item: u32,
    pub because: u32,
    pub confidence: f64,
    pub lift: f64,
}

/// Up to `top` products a customer who bought `bought` (sorted) has not bought yet: for each
/// candidate the strongest single-item rule from something they bought, by confidence (the
/// chance of buying it given what they bought), then lift.
pub fn suggestions(
    with: &FxHashMap<u32, Vec<&Rule>>,
    bought: &[u32],
    top: usize,
) -> Vec<Suggestion> {
    let mut best: FxHashMap<u32, Suggestion> = FxHashMap::default();
    for &i in bought {
        for rule in with.get(&i).map(Vec::as_slice).unwrap_or_default() {
            let j = rule.consequent[0];
            if bought.binary_search(&j).is_ok() {
                continue;
            }
            let s = Suggestion {
                item: j,
                because: i,
                confidence: rule.confidence,
                lift: rule.lift,
            };
            let entry = best.entry(j).or_insert(s);
            if (s.confidence, s.lift) > (entry.confidence, entry.lift) {
                *entry = s;
            }
        }
    }
    let mut out: Vec<Suggestion> = best.into_values().collect();
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.lift.total_cmp(&a.lift))
            .then(a.item.cmp(&b.item))
    });
    out.truncate(top);
    out
}

/// The thresholds rules must pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub min_support: f64,
    pub min_confidence: f64,
    pub min_lift: f64,
}

/// Products bought together: the baskets, their frequent itemsets and the rules.
#[derive(Debug, Clone)]
pub struct Together {
    pub thresholds: Thresholds,
    pub baskets: Baskets,
    pub frequent: Frequent,
    pub rules: Vec<Rule>,
}

/// Baskets, frequent pairs and triples and association rules of `products`' lines, counted on
/// `threads` threads.
pub fn together(
    products: &crate::products::ProductLog,
    thresholds: Thresholds,
    threads: usize,
) -> Together {
    let baskets = Baskets::from_pairs(products.basket_pairs());
    let frequent = frequent(&baskets, thresholds.min_support, 3, threads);
    let rules = rules(&frequent, thresholds.min_confidence, thresholds.min_lift);
    Together {
        thresholds,
        baskets,
        frequent,
        rules,
    }
}

/// Bundle candidates: up to `n` of the most frequent pairs and triples bought together more
/// often than if their products were bought independently.
pub fn bundles(frequent: &Frequent, n: usize) -> Vec<Itemset> {
    frequent
        .itemsets()
        .into_iter()
        .filter(|s| {
            let expected: f64 = s
                .items
                .iter()
                .map(|&i| frequent.support(frequent.item_counts[i as usize]))
                .product();
            frequent.support(s.count) > expected
        })
        .take(n)
        .collect()
}

/// Every customer's top `top` suggestions as (customer, rank from 1, suggestion), customers in
/// id order, from the products each has bought.
pub fn customer_suggestions(
    products: &crate::products::ProductLog,
    with: &FxHashMap<u32, Vec<&Rule>>,
    top: usize,
) -> Vec<(u32, usize, Suggestion)> {
    let mut bought: Vec<(u32, u32)> = products.lines.iter().map(|l| (l.customer, l.sku)).collect();
    bought.sort_unstable();
    bought.dedup();
    let mut rows = Vec::new();
    for group in bought.chunk_by(|a, b| a.0 == b.0) {
        let items: Vec<u32> = group.iter().map(|p| p.1).collect();
        for (k, s) in suggestions(with, &items, top).into_iter().enumerate() {
            rows.push((group[0].0, k + 1, s));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive support counting over all subsets, for checking the level-wise counts.
    fn naive_count(baskets: &[Vec<u32>], items: &[u32]) -> u64 {
        baskets
            .iter()
            .filter(|b| items.iter().all(|i| b.contains(i)))
            .count() as u64
    }

    #[test]
    fn counts_and_rules_equal_a_naive_recount() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let raw: Vec<Vec<u32>> = (0..400)
            .map(|_| {
                let mut b: Vec<u32> = (0..rng.random_range(1..6))
                    .map(|_| rng.random_range(0..8))
                    .collect();
                if b.contains(&1) && rng.random::<f64>() < 0.8 {
                    b.push(2);
                }
                b
            })
            .collect();
        let pairs: Vec<(u32, u32)> = raw
            .iter()
            .enumerate()
            .flat_map(|(k, b)| b.iter().map(move |&i| (k as u32, i)))
            .collect();
        let baskets = Baskets::from_pairs(pairs);
        assert_eq!(baskets.len(), 400);
        let f = frequent(&baskets, 0.02, 3, 2);
        let n = 400.0;
        for set in f.itemsets() {
            assert_eq!(set.count, naive_count(&raw, &set.items), "{:?}", set.items);
            assert!(set.count as f64 / n >= 0.02);
        }
        // Every pair of frequent items at the threshold is found.
        for a in 0..8u32 {
            for b in a + 1..8 {
                let c = naive_count(&raw, &[a, b]);
                assert_eq!(
                    f.pairs.contains_key(&(a, b)),
                    c as f64 >= 0.02 * n,
                    "{a},{b}"
                );
            }
        }
        let rules = rules(&f, 0.0, 0.0);
        for r in &rules {
            let both: Vec<u32> = {
                let mut v = [r.antecedent.clone(), r.consequent.clone()].concat();
                v.sort();
                v
            };
            let (sa, sc, s) = (
                naive_count(&raw, &r.antecedent) as f64 / n,
                naive_count(&raw, &r.consequent) as f64 / n,
                naive_count(&raw, &both) as f64 / n,
            );
            assert!((r.support - s).abs() < 1e-12);
            assert!((r.confidence - s / sa).abs() < 1e-12);
            assert!((r.lift - s / sa / sc).abs() < 1e-12);
        }
        // The planted 1 → 2 is the strongest single-item rule.
        let top = rules
            .iter()
            .find(|r| r.antecedent.len() == 1 && r.consequent.len() == 1)
            .unwrap();
        assert!(
            (top.antecedent[0], top.consequent[0]) == (1, 2)
                || (top.antecedent[0], top.consequent[0]) == (2, 1),
            "{top:?}"
        );
    }

    #[test]
    fn suggestions_skip_what_was_bought() {
        let rule = |a: u32, c: u32, confidence: f64| Rule {
            antecedent: vec![a],
            consequent: vec![c],
            antecedent_support: 0.1,
            consequent_support: 0.1,
            support: 0.05,
            confidence,
            lift: confidence / 0.1,
        };
        let rules = vec![
            rule(1, 2, 0.9),
            rule(1, 3, 0.5),
            rule(4, 3, 0.7),
            rule(4, 1, 0.2),
        ];
        let with = bought_with(&rules, 5);
        let got = suggestions(&with, &[1, 4], 5);
        assert_eq!(
            got.iter().map(|s| (s.item, s.because)).collect::<Vec<_>>(),
            vec![(2, 1), (3, 4)]
        );
    }
}
