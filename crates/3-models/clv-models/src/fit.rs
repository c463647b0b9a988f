//! The maximum-likelihood engine shared by every model.
//!
//! Parameters are positive, so the optimiser works on their logarithms. The objective is the mean
//! negative log-likelihood per customer (so tolerances mean the same at 2,000 or 2,000,000
//! customers), minimised by L-BFGS with a Moré–Thuente line search from several starting points.
//! A fit is accepted only if the gradient is small, the observed information is positive definite,
//! the log-likelihood is negative and every number is finite; otherwise the next start is tried,
//! then Nelder-Mead (no derivatives, robust where line searches fail) from the best point seen,
//! and if nothing passes the caller gets an error that says why, never a silent "success".
//!
//! An optional L2 penalty λ·Σθ² is added to the mean negative log-likelihood per customer
//! (lifetimes' `penalizer_coef` convention, on the natural parameters; lifetimes' α is on rescaled
//! time, so the same λ is not the same penalty there).

use crate::data::Weighted;
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;

/// A model the engine can fit.
pub trait Model: Sync {
    /// One (weighted) observation.
    type Row: Weighted + Sync;
    /// Parameter names, in order.
    fn names(&self) -> &'static [&'static str];
    /// Log-likelihood of one row at `theta`, adding its gradient with respect to `theta` into
    /// `grad`.
    fn log_likelihood(&self, theta: &[f64], row: &Self::Row, grad: &mut [f64]) -> f64;
    /// Σ weight · log-likelihood over `rows`, adding the weighted gradient into `grad`. Models
    /// override it to share work between rows (e.g. terms that depend only on x).
    fn chunk_log_likelihood(&self, theta: &[f64], rows: &[Self::Row], grad: &mut [f64]) -> f64 {
        let mut row_grad = vec![0.0; theta.len()];
        let mut ll = 0.0;
        for row in rows {
            row_grad.iter_mut().for_each(|g| *g = 0.0);
            let w = row.weight();
            ll += w * self.log_likelihood(theta, row, &mut row_grad);
            for (g, r) in grad.iter_mut().zip(&row_grad) {
                *g += w * r;
            }
        }
        ll
    }
    /// Starting points (natural scale) to try, best guess first.
    fn starts(&self, rows: &[Self::Row]) -> Vec<Vec<f64>>;
    /// Why `rows` cannot be fitted, if they cannot.
    fn check(&self, rows: &[Self::Row]) -> Result<(), String>;
}

/// Why a fit was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("{0}")]
    Data(String),
    #[error("the fit did not converge from any of {starts} starting points (best: log-likelihood {best_ll:.4}, gradient norm {gradient_norm:.2e}, {reason}); try more data, a longer observation window, or a simpler model")]
    NotConverged {
        starts: usize,
        best_ll: f64,
        gradient_norm: f64,
        reason: String,
    },
}

/// A converged fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    pub names: Vec<String>,
    pub params: Vec<f64>,
    /// From the inverse observed information (natural scale).
    pub standard_errors: Vec<f64>,
    /// 95% intervals, symmetric on the log scale so they stay positive.
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
    pub covariance: Vec<Vec<f64>>,
    /// Total (weighted) log-likelihood.
    pub log_likelihood: f64,
    pub customers: f64,
    pub patterns: usize,
    pub iterations: u64,
    /// Norm of the gradient of the mean log-likelihood with respect to log-parameters.
    pub gradient_norm: f64,
    /// Which starting point converged (0-based).
    pub start: usize,
    /// "L-BFGS", or "Nelder-Mead" when every gradient-based run failed.
    pub method: String,
    /// The L2 penalty λ used (0 for plain maximum likelihood).
    pub penalty: f64,
    /// Parameters the data does not determine: the log-likelihood is flat (or all but flat,
    /// beyond a factor of 50 either way) along a direction they span, a ridge. The fit is still a
    /// maximum and its predictions may be fine; on a flat ridge the standard errors cover the
    /// determined directions only.
    pub undetermined: Vec<String>,
    /// Parameters the data determines only loosely, alone or in a combination: known to within
    /// a factor between 7 and 50 either way (95%).
    pub poorly_determined: Vec<String>,
}

impl FitReport {
    /// True when every parameter is determined by the data to within its own size.
    pub fn well_determined(&self) -> bool {
        self.undetermined.is_empty() && self.poorly_determined.is_empty()
    }
}

/// Fitting options.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FitOptions {
    /// L2 penalty λ on the natural parameters, per customer; 0 for maximum likelihood.
    pub penalty: f64,
    /// Threads the likelihood may be evaluated on (0 and 1: the calling thread only). The
    /// caller decides: a bootstrap that fits on every core already passes 1 here.
    pub threads: usize,
    /// Where fits count their likelihood evaluations, for a caller that shows progress (the
    /// library itself says nothing).
    pub progress: Option<&'static FitProgress>,
}

/// Counts that a running fit (or many: a bootstrap's refits) updates as it goes, readable from
/// another thread while it runs.
#[derive(Debug, Default)]
pub struct FitProgress {
    evaluations: std::sync::atomic::AtomicU64,
    /// The highest log-likelihood seen so far, as f64 bits (0 bits: none yet).
    best_log_likelihood: std::sync::atomic::AtomicU64,
}

/// Progress counters are compared by identity: two options are equal when they report to the
/// same place.
impl PartialEq for FitProgress {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl FitProgress {
    pub const fn new() -> Self {
        FitProgress {
            evaluations: std::sync::atomic::AtomicU64::new(0),
            best_log_likelihood: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Likelihood evaluations so far (each over every customer pattern).
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The best log-likelihood any evaluation has reached.
    pub fn best_log_likelihood(&self) -> Option<f64> {
        let bits = self
            .best_log_likelihood
            .load(std::sync::atomic::Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    fn record(&self, ll: f64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.evaluations.fetch_add(1, Relaxed);
        if ll.is_finite() {
            let _ = self
                .best_log_likelihood
                .fetch_update(Relaxed, Relaxed, |bits| {
                    (bits == 0 || ll > f64::from_bits(bits)).then_some(ll.to_bits())
                });
        }
    }
}

/// The most recent evaluation: where, the log-likelihood, and its gradient.
struct Evaluation {
    log_theta: Vec<f64>,
    ll: f64,
    grad: Vec<f64>,
}

struct Objective<'a, M: Model> {
    model: &'a M,
    rows: &'a [M::Row],
    n: f64,
    penalty: f64,
    threads: usize,
    progress: Option<&'static FitProgress>,
    last: std::sync::Mutex<Option<Evaluation>>,
}

impl<M: Model> Objective<'_, M> {
    /// Total log-likelihood and its gradient with respect to the natural parameters. The
    /// patterns are cut into chunks of a fixed size and the chunks' sums added in chunk order,
    /// whichever thread computed them, so a fit is the same to the last bit on any number of
    /// threads (the CLI on every core, a service or a Spark task on one).
    fn total(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        const CHUNK: usize = 8_192;
        let chunks: Vec<&[M::Row]> = self.rows.chunks(CHUNK).collect();
        let threads = self.threads.min(chunks.len()).max(1);
        let parts: Vec<(f64, Vec<f64>)> = if threads == 1 {
            chunks.iter().map(|c| self.chunk(theta, c)).collect()
        } else {
            // Thread t takes chunks t, t + threads, …; results go back to chunk order.
            let chunks = &chunks;
            let mut parts: Vec<(usize, (f64, Vec<f64>))> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        scope.spawn(move || {
                            (t..chunks.len())
                                .step_by(threads)
                                .map(|k| (k, self.chunk(theta, chunks[k])))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("likelihood worker panicked"))
                    .collect()
            });
            parts.sort_by_key(|(k, _)| *k);
            parts.into_iter().map(|(_, p)| p).collect()
        };
        parts
            .into_iter()
            .fold((0.0, vec![0.0; theta.len()]), |(ll, mut grad), (l, g)| {
                grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
                (ll + l, grad)
            })
    }

    fn chunk(&self, theta: &[f64], rows: &[M::Row]) -> (f64, Vec<f64>) {
        let mut grad = vec![0.0; theta.len()];
        let ll = self.model.chunk_log_likelihood(theta, rows, &mut grad);
        (ll, grad)
    }

    /// `total` at the natural parameters for `log_theta`, remembered for the next call: the
    /// optimiser asks for the cost and then the gradient at the same point.
    fn at(&self, log_theta: &[f64]) -> (Vec<f64>, f64, Vec<f64>) {
        let mut last = self.last.lock().expect("cache lock");
        if let Some(e) = last.as_ref().filter(|e| e.log_theta == log_theta) {
            return (natural(log_theta), e.ll, e.grad.clone());
        }
        let theta = natural(log_theta);
        let (ll, grad) = self.total(&theta);
        if let Some(p) = self.progress {
            p.record(ll);
        }
        *last = Some(Evaluation {
            log_theta: log_theta.to_vec(),
            ll,
            grad: grad.clone(),
        });
        (theta, ll, grad)
    }
}

fn natural(log_theta: &[f64]) -> Vec<f64> {
    log_theta.iter().map(|p| p.exp()).collect()
}

impl<M: Model> CostFunction for Objective<'_, M> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, log_theta: &Self::Param) -> Result<f64, argmin::core::Error> {
        let (theta, ll, _) = self.at(log_theta);
        let cost = -ll / self.n + self.penalty * theta.iter().map(|t| t * t).sum::<f64>();
        // A non-finite value makes the line search back off instead of stepping there.
        Ok(if cost.is_finite() { cost } else { f64::MAX })
    }
}

impl<M: Model> Gradient for Objective<'_, M> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, log_theta: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
        let (theta, _, grad) = self.at(log_theta);
        Ok(grad
            .iter()
            .zip(&theta)
            .map(|(g, t)| {
                let v = (-g / self.n + 2.0 * self.penalty * t) * t;
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            })
            .collect())
    }
}

/// Symmetric positive-definite inverse by Cholesky; `None` when not positive definite.
fn spd_inverse(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let m = nalgebra::DMatrix::from_fn(n, n, |i, j| a[i][j]);
    if m.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let inv = m.cholesky()?.inverse();
    Some(
        (0..n)
            .map(|i| (0..n).map(|j| inv[(i, j)]).collect())
            .collect(),
    )
}

/// The Moore–Penrose inverse of a symmetric matrix that is positive semi-definite up to noise,
/// and for each of its null directions the indices of the parameters that span it. `None` when
/// an eigenvalue is clearly negative (a saddle, not a maximum) or there is no null direction.
fn semidefinite_inverse(a: &[Vec<f64>]) -> Option<(Vec<Vec<f64>>, Vec<usize>)> {
    let n = a.len();
    let m = nalgebra::DMatrix::from_fn(n, n, |i, j| a[i][j]);
    if m.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let eigen = nalgebra::SymmetricEigen::new(m);
    let largest = eigen
        .eigenvalues
        .iter()
        .fold(0.0f64, |x, &v| x.max(v.abs()));
    // Finite differences leave the information a few digits short: smaller is zero.
    let tolerance = 1e-6 * largest;
    if largest == 0.0 || eigen.eigenvalues.iter().any(|&v| v < -tolerance) {
        return None;
    }
    let mut inverse = vec![vec![0.0; n]; n];
    let mut spanning = Vec::new();
    for (k, &value) in eigen.eigenvalues.iter().enumerate() {
        let v = eigen.eigenvectors.column(k);
        if value <= tolerance {
            spanning.extend((0..n).filter(|&i| v[i].abs() > 0.2));
            continue;
        }
        for i in 0..n {
            for j in 0..n {
                inverse[i][j] += v[i] * v[j] / value;
            }
        }
    }
    spanning.sort_unstable();
    spanning.dedup();
    (!spanning.is_empty()).then_some((inverse, spanning))
}

/// Observed information −∂²ℓ/∂θ² by central differences of the analytic gradient.
fn observed_information<M: Model>(objective: &Objective<'_, M>, theta: &[f64]) -> Vec<Vec<f64>> {
    let n = theta.len();
    // columns[j][i] = −∂g_i/∂θ_j
    let columns: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let h = 1e-5 * theta[j].abs().max(1e-8);
            let mut up = theta.to_vec();
            let mut down = theta.to_vec();
            up[j] += h;
            down[j] -= h;
            let (_, g_up) = objective.total(&up);
            let (_, g_down) = objective.total(&down);
            g_up.iter()
                .zip(&g_down)
                .map(|(u, d)| -(u - d) / (2.0 * h))
                .collect()
        })
        .collect();
    // Finite differences leave the matrix slightly asymmetric; use its symmetric part.
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| 0.5 * (columns[j][i] + columns[i][j]))
                .collect()
        })
        .collect()
}

/// Worst gap between a row's analytic gradient and central finite differences, relative to
/// 1 + |finite difference|. Every model's tests hold it below 1e-6.
pub fn gradient_error<M: Model>(model: &M, theta: &[f64], row: &M::Row) -> f64 {
    let n = theta.len();
    let mut analytic = vec![0.0; n];
    model.log_likelihood(theta, row, &mut analytic);
    let ll = |p: &[f64]| model.log_likelihood(p, row, &mut vec![0.0; n]);
    (0..n)
        .map(|i| {
            let h = 1e-6 * theta[i].abs().max(1e-8);
            let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
            up[i] += h;
            down[i] -= h;
            let numeric = (ll(&up) - ll(&down)) / (2.0 * h);
            (analytic[i] - numeric).abs() / (1.0 + numeric.abs())
        })
        .fold(0.0, f64::max)
}

/// Fit `model` to `rows` by maximum likelihood.
pub fn fit<M: Model>(model: &M, rows: &[M::Row]) -> Result<FitReport, FitError> {
    fit_with(model, rows, FitOptions::default())
}

/// Fit `model` to `rows` with `options`.
pub fn fit_with<M: Model>(
    model: &M,
    rows: &[M::Row],
    options: FitOptions,
) -> Result<FitReport, FitError> {
    model.check(rows).map_err(FitError::Data)?;
    if !(options.penalty >= 0.0 && options.penalty.is_finite()) {
        return Err(FitError::Data(format!(
            "the penalty must be a non-negative number, got {}",
            options.penalty
        )));
    }
    let objective = Objective {
        model,
        rows,
        n: rows.iter().map(Weighted::weight).sum(),
        penalty: options.penalty,
        threads: options.threads.max(1),
        progress: options.progress,
        last: std::sync::Mutex::new(None),
    };
    let starts = model.starts(rows);
    // The best rejected run: (log-likelihood, gradient norm, reason, its log-parameters).
    let mut best: Option<Rejected> = None;
    fn remember(best: &mut Option<Rejected>, r: Rejected) {
        if best
            .as_ref()
            .is_none_or(|b| r.ll > b.ll || !b.ll.is_finite())
        {
            *best = Some(r);
        }
    }
    for (k, start) in starts.iter().enumerate() {
        let init: Vec<f64> = start.iter().map(|t| t.ln()).collect();
        match run_lbfgs(&objective, init).and_then(|(p, it)| accept(&objective, p, it, k, "L-BFGS"))
        {
            Ok(report) => return Ok(report),
            Err(r) => remember(&mut best, r),
        }
    }
    // Every gradient-based run failed: Nelder-Mead from the best point any of them reached.
    let from = best
        .as_ref()
        .and_then(|b| b.log_theta.clone())
        .unwrap_or_else(|| starts[0].iter().map(|t| t.ln()).collect());
    match run_nelder_mead(&objective, from)
        .and_then(|(p, it)| accept(&objective, p, it, starts.len(), "Nelder-Mead"))
    {
        Ok(report) => return Ok(report),
        Err(r) => remember(&mut best, r),
    }
    let best = best.expect("at least one run was made");
    Err(FitError::NotConverged {
        starts: starts.len(),
        best_ll: best.ll,
        gradient_norm: best.gradient_norm,
        reason: best.reason,
    })
}

/// A run that did not pass the acceptance checks.
struct Rejected {
    ll: f64,
    gradient_norm: f64,
    reason: String,
    log_theta: Option<Vec<f64>>,
}

fn rejected(reason: String) -> Rejected {
    Rejected {
        ll: f64::NAN,
        gradient_norm: f64::NAN,
        reason,
        log_theta: None,
    }
}

fn fresh<'a, M: Model>(o: &Objective<'a, M>) -> Objective<'a, M> {
    Objective {
        model: o.model,
        rows: o.rows,
        n: o.n,
        penalty: o.penalty,
        threads: o.threads,
        progress: o.progress,
        last: std::sync::Mutex::new(None),
    }
}

/// L-BFGS from `init` (log-parameters): the best point and the iteration count.
fn run_lbfgs<M: Model>(
    objective: &Objective<'_, M>,
    init: Vec<f64>,
) -> Result<(Vec<f64>, u64), Rejected> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-10)
        .and_then(|s| s.with_tolerance_cost(1e-14))
        .map_err(|e| rejected(e.to_string()))?;
    let result = Executor::new(fresh(objective), solver)
        .configure(|state| state.param(init).max_iters(1000))
        .run()
        .map_err(|e| rejected(format!("optimiser stopped: {e}")))?;
    best_point(result.state())
}

/// Nelder-Mead from `init` (log-parameters), on a simplex of ±0.5 in each log-parameter.
fn run_nelder_mead<M: Model>(
    objective: &Objective<'_, M>,
    init: Vec<f64>,
) -> Result<(Vec<f64>, u64), Rejected> {
    let mut simplex = vec![init.clone()];
    for i in 0..init.len() {
        let mut vertex = init.clone();
        vertex[i] += 0.5;
        simplex.push(vertex);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-14)
        .map_err(|e| rejected(e.to_string()))?;
    let result = Executor::new(fresh(objective), solver)
        .configure(|state| state.max_iters(20_000))
        .run()
        .map_err(|e| rejected(format!("Nelder-Mead stopped: {e}")))?;
    best_point(result.state())
}

/// Where a run ended: its best log-parameters and the iterations it took.
fn best_point<S: State<Param = Vec<f64>>>(state: &S) -> Result<(Vec<f64>, u64), Rejected> {
    state
        .get_best_param()
        .map(|p| (p.clone(), state.get_iter()))
        .ok_or_else(|| rejected("no parameters".into()))
}

/// The parameters the data leaves loose, from the eigenvectors of the covariance of the
/// log-parameters: those loading on a combination whose standard error exceeds 2 (known only to
/// within a factor of e^3.9 ≈ 50 either way at 95%) are not determined; those on one above 1
/// (a factor of 7) are poorly determined. Several parameters on one direction are told apart
/// only through a combination (a ridge: s and β of a Pareto/NBD fit to dropout after purchases).
/// CDNOW's fits, the textbook ones, have none (their loosest direction, Pareto/NBD's s and β,
/// has a standard error of about 0.6).
fn loose_directions(covariance: &[Vec<f64>], theta: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let n = theta.len();
    let log_cov = nalgebra::DMatrix::from_fn(n, n, |i, j| covariance[i][j] / (theta[i] * theta[j]));
    if log_cov.iter().any(|v| !v.is_finite()) {
        return (Vec::new(), Vec::new());
    }
    let eigen = nalgebra::SymmetricEigen::new(log_cov);
    let (mut undetermined, mut poor) = (Vec::new(), Vec::new());
    for (k, &variance) in eigen.eigenvalues.iter().enumerate() {
        if variance <= 1.0 {
            continue;
        }
        let v = eigen.eigenvectors.column(k);
        let loading = (0..n).filter(|&i| v[i].abs() > 0.3);
        match variance > 4.0 {
            true => undetermined.extend(loading),
            false => poor.extend(loading),
        }
    }
    (undetermined, poor)
}

/// Check a candidate optimum and, if it passes, report it with standard errors.
fn accept<M: Model>(
    objective: &Objective<'_, M>,
    log_theta: Vec<f64>,
    iterations: u64,
    start: usize,
    method: &str,
) -> Result<FitReport, Rejected> {
    let theta = natural(&log_theta);
    let (ll, grad) = objective.total(&theta);
    // Gradient of the (penalised) mean objective with respect to log-parameters.
    let gradient_norm = grad
        .iter()
        .zip(&theta)
        .map(|(g, t)| ((g / objective.n - 2.0 * objective.penalty * t) * t).powi(2))
        .sum::<f64>()
        .sqrt();
    let fail = |reason: String| {
        Err(Rejected {
            ll,
            gradient_norm,
            reason,
            log_theta: Some(log_theta.clone()),
        })
    };
    if !ll.is_finite() || theta.iter().any(|t| !t.is_finite() || *t <= 0.0) {
        return fail("non-finite parameters or likelihood".into());
    }
    if ll > 0.0 {
        return fail(format!(
            "positive log-likelihood {ll:.4} (a degenerate optimum)"
        ));
    }
    // NaN fails this check too.
    if gradient_norm.is_nan() || gradient_norm >= 1e-5 {
        return fail(format!("gradient not small after {iterations} iterations"));
    }
    let mut info = observed_information(objective, &theta);
    for (i, row) in info.iter_mut().enumerate() {
        // The penalty's curvature, on the total scale: n · 2λ on the diagonal.
        row[i] += 2.0 * objective.penalty * objective.n;
    }
    // A singular information matrix at a maximum is a ridge: accepted, with the parameters that
    // span it named. A saddle (a clearly negative curvature) is not a maximum.
    let (covariance, ridge) =
        match spd_inverse(&info) {
            Some(c) => (c, Vec::new()),
            None => match semidefinite_inverse(&info) {
                Some(found) => found,
                None => return fail(
                    "observed information is not positive semi-definite (a saddle, not a maximum)"
                        .into(),
                ),
            },
        };
    let names = objective.model.names();
    let (loose, loose_alone) = loose_directions(&covariance, &theta);
    let mut ridge = ridge;
    ridge.extend(loose);
    ridge.sort_unstable();
    ridge.dedup();
    let undetermined: Vec<String> = ridge.iter().map(|&i| names[i].to_string()).collect();
    let standard_errors: Vec<f64> = (0..theta.len()).map(|i| covariance[i][i].sqrt()).collect();
    let poorly_determined: Vec<String> = loose_alone
        .into_iter()
        .filter(|i| !ridge.contains(i))
        .collect::<std::collections::BTreeSet<usize>>()
        .into_iter()
        .map(|i| names[i].to_string())
        .collect();
    let z = 1.959963984540054;
    let log_half_width = |i: usize| z * standard_errors[i] / theta[i];
    Ok(FitReport {
        names: objective
            .model
            .names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        lower_95: (0..theta.len())
            .map(|i| theta[i] * (-log_half_width(i)).exp())
            .collect(),
        upper_95: (0..theta.len())
            .map(|i| theta[i] * log_half_width(i).exp())
            .collect(),
        params: theta,
        standard_errors,
        covariance,
        log_likelihood: ll,
        customers: objective.n,
        patterns: objective.rows.len(),
        iterations,
        gradient_norm,
        start,
        method: method.to_string(),
        penalty: objective.penalty,
        undetermined,
        poorly_determined,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_known_matrix() {
        let a = vec![vec![4.0, 2.0], vec![2.0, 3.0]];
        let inv = spd_inverse(&a).unwrap();
        // inv = 1/8 [[3, -2], [-2, 4]]
        let want = [[0.375, -0.25], [-0.25, 0.5]];
        for i in 0..2 {
            for j in 0..2 {
                assert!((inv[i][j] - want[i][j]).abs() < 1e-15);
            }
        }
        assert!(spd_inverse(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
    }
}
