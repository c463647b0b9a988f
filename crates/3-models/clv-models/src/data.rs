//! Model input: one (x, t_x, T) pattern per distinct customer history, with a weight.

use rustc_hash::FxHashMap;

/// A row that stands for `weight` identical customers.
pub trait Weighted {
    fn weight(&self) -> f64;
}

impl Weighted for Pattern {
    fn weight(&self) -> f64 {
        self.weight
    }
}

/// x repeat purchases, the last at t_x, observed for T since the first purchase; `weight`
/// customers share it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pattern {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    pub weight: f64,
}

/// Weighted mean of `value` over rows (1 when there are none), for starting values.
pub fn weighted_mean<R: Weighted>(rows: &[R], value: impl Fn(&R) -> f64) -> f64 {
    let n: f64 = rows.iter().map(Weighted::weight).sum();
    if n > 0.0 {
        rows.iter().map(|r| r.weight() * value(r)).sum::<f64>() / n
    } else {
        1.0
    }
}

/// Distinct patterns, sorted by (x, t_x, T) so models can share work between rows with the same x.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patterns {
    pub rows: Vec<Pattern>,
}

impl Patterns {
    /// Compress per-customer (x, t_x, T) triples: identical triples become one weighted row.
    pub fn compress(customers: impl IntoIterator<Item = (f64, f64, f64)>) -> Self {
        Self::compress_indexed(customers).0
    }

    /// Like [`Patterns::compress`], also returning, for each customer in input order, the index
    /// of their row: scoring predicts once per row and hands each customer its row's result.
    pub fn compress_indexed(
        customers: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> (Self, Vec<u32>) {
        Self::compress_weighted(customers.into_iter().map(|c| (c, 1.0)))
    }

    /// Like [`Patterns::compress_indexed`] for rows that already stand for several customers
    /// (patterns counted by a `groupBy`, say): identical triples add their weights, and the
    /// rows come out in the same order whatever order they went in, so a fit of counted
    /// patterns is the fit of the customers they count.
    pub fn compress_weighted(
        customers: impl IntoIterator<Item = ((f64, f64, f64), f64)>,
    ) -> (Self, Vec<u32>) {
        let mut index: FxHashMap<(u64, u64, u64), u32> = FxHashMap::default();
        let mut rows: Vec<Pattern> = Vec::new();
        let row_of: Vec<u32> = customers
            .into_iter()
            .map(|((x, t_x, t), weight)| {
                let i = *index
                    .entry((x.to_bits(), t_x.to_bits(), t.to_bits()))
                    .or_insert_with(|| {
                        rows.push(Pattern {
                            x,
                            t_x,
                            t,
                            weight: 0.0,
                        });
                        (rows.len() - 1) as u32
                    });
                rows[i as usize].weight += weight;
                i
            })
            .collect();
        // Sort rows by (x, t_x, T) and renumber the customers' indices to match.
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_by(|&p, &q| {
            let (p, q) = (&rows[p as usize], &rows[q as usize]);
            (p.x, p.t_x, p.t)
                .partial_cmp(&(q.x, q.t_x, q.t))
                .expect("finite patterns")
        });
        let mut new_index = vec![0u32; rows.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old as usize] = new as u32;
        }
        let rows = order.iter().map(|&old| rows[old as usize]).collect();
        let row_of = row_of.into_iter().map(|i| new_index[i as usize]).collect();
        (Patterns { rows }, row_of)
    }

    /// Number of customers (total weight).
    pub fn customers(&self) -> f64 {
        self.rows.iter().map(|r| r.weight).sum()
    }

    /// Checks the data can be fitted: finite, 0 ≤ t_x ≤ T, x a non-negative whole number,
    /// t_x = 0 when x = 0, positive weights. T = 0 (a first purchase on the last day) is allowed:
    /// such a customer's likelihood is 1 in every model, so they add nothing to the fit.
    pub fn validate(&self) -> Result<(), String> {
        validate_patterns(&self.rows)
    }
}

/// See [`Patterns::validate`].
pub fn validate_patterns(rows: &[Pattern]) -> Result<(), String> {
    if rows.is_empty() {
        return Err("no customers to fit".into());
    }
    for r in rows {
        let ok = r.x.is_finite()
            && r.t_x.is_finite()
            && r.t.is_finite()
            && r.x >= 0.0
            && r.x.fract() == 0.0
            && r.t_x >= 0.0
            && r.t_x <= r.t
            && (r.x > 0.0 || r.t_x == 0.0)
            && r.weight > 0.0;
        if !ok {
            return Err(format!(
                    "invalid customer pattern x={}, t_x={}, T={}, weight={}: need whole x ≥ 0, 0 ≤ t_x ≤ T, t_x = 0 when x = 0",
                    r.x, r.t_x, r.t, r.weight
                ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_histories_share_a_row() {
        let p = Patterns::compress([(0.0, 0.0, 38.0), (2.0, 5.0, 38.0), (0.0, 0.0, 38.0)]);
        assert_eq!(p.rows.len(), 2);
        assert_eq!((p.rows[0].x, p.rows[0].weight), (0.0, 2.0));
        let (q, row_of) =
            Patterns::compress_indexed([(2.0, 5.0, 38.0), (0.0, 0.0, 38.0), (2.0, 5.0, 38.0)]);
        assert_eq!(row_of, vec![1, 0, 1]);
        assert_eq!((q.rows[1].x, q.rows[1].weight), (2.0, 2.0));
        // Counted rows, shuffled and split, come out as the customers they count.
        let (w, _) = Patterns::compress_weighted([
            ((2.0, 5.0, 38.0), 1.5),
            ((0.0, 0.0, 38.0), 1.0),
            ((2.0, 5.0, 38.0), 0.5),
        ]);
        assert_eq!(w, q);
        assert_eq!(p.customers(), 3.0);
        assert!(p.validate().is_ok());
        assert!(Patterns::compress([(1.0, 5.0, 4.0)]).validate().is_err());
        assert!(Patterns::compress([(0.0, 1.0, 4.0)]).validate().is_err());
    }
}
