//! Progress of long fits on stderr: every fit of a command counts its likelihood evaluations in
//! [`FITTING`]; while a command runs, a watcher prints what the fits have done every two seconds
//! once they have taken two seconds, and nothing for quick ones.

use clv_models::FitProgress;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where every fit of this process counts its progress.
pub static FITTING: FitProgress = FitProgress::new();

/// Fit options on `threads` with `penalty` that report to [`FITTING`].
pub fn fit_options(penalty: f64, threads: usize) -> clv_models::FitOptions {
    clv_models::FitOptions { penalty, threads, progress: Some(&FITTING) }
}

/// How long fits run before progress is shown, and how often after: two seconds, or
/// `CLV_PROGRESS_EVERY_MS` (tests use it to see the lines without a slow fit).
fn every() -> Duration {
    let ms = std::env::var("CLV_PROGRESS_EVERY_MS").ok().and_then(|v| v.parse().ok());
    Duration::from_millis(ms.unwrap_or(2_000))
}

/// Run `command`, printing the fits' progress while it takes long.
pub fn watching<T>(command: impl FnOnce() -> T) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let every = every();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let started = Instant::now();
            let mut shown = 0;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(every) {
                let evaluations = FITTING.evaluations();
                // Only while fits are running: reading or writing a big file is not a fit.
                if evaluations == shown {
                    continue;
                }
                shown = evaluations;
                let best = FITTING
                    .best_log_likelihood()
                    .map_or(String::new(), |ll| format!(", best log-likelihood {ll:.4}"));
                let line = format!(
                    "fitting: {:.0} s, {evaluations} likelihood evaluations{best}\n",
                    started.elapsed().as_secs_f64()
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        });
        let result = command();
        let _ = done.send(());
        result
    })
}
