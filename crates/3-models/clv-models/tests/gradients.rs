//! Every model's analytic gradient against central finite differences, over parameter points that
//! include the awkward corners (a + b < 1, lifetimes#442; large rates; heavy buyers).

use clv_models::{
    gradient_error, BgBb, BgNbd, GammaGamma, MbgNbd, ParetoNbd, Pattern, ShiftedBetaGeometric,
    SpendPattern, Tenure,
};

fn pattern(x: f64, t_x: f64, t: f64) -> Pattern {
    Pattern {
        x,
        t_x,
        t,
        weight: 1.0,
    }
}

#[test]
fn analytic_gradients_equal_finite_differences() {
    let histories = [
        pattern(0.0, 0.0, 38.86),
        pattern(1.0, 2.0, 30.0),
        pattern(26.0, 30.857, 31.0),
        pattern(400.0, 52.0, 52.0),
        // A first purchase on the last day: T = 0.
        pattern(0.0, 0.0, 0.0),
    ];
    // b = 1 exactly: BG/NBD's dropout odds a/(b + x − 1) have a zero denominator at x = 0,
    // where the term is absent (the gradient was NaN there, and the optimiser froze b).
    let purchase_points: [&[f64]; 4] = [
        &[0.2425982, 4.4136842, 0.7929899, 2.4261667],
        &[0.3, 0.5, 0.2, 0.4],
        &[5.0, 80.0, 3.0, 12.0],
        &[1.0, 38.0, 1.0, 1.0],
    ];
    for theta in purchase_points {
        for row in &histories {
            let (bg, mbg) = (
                gradient_error(&BgNbd, theta, row),
                gradient_error(&MbgNbd, theta, row),
            );
            assert!(
                bg < 1e-6 && mbg < 1e-6,
                "θ={theta:?} {row:?}: BG {bg:e}, MBG {mbg:e}"
            );
        }
    }
    // Pareto/NBD on both sides of α = β (the likelihood switches form there) and at it.
    // The last two sit on the ridge of large s and β, where ₂F₁'s argument nears 1 and its
    // derivatives come from the 1 − z transformation.
    let pareto_points: [&[f64]; 7] = [
        &[0.5534, 10.5802, 0.6061, 11.6562],
        &[0.5534, 12.0, 0.6061, 11.6562],
        &[0.8, 7.0, 1.5, 7.0],
        &[2.0, 0.5, 0.3, 60.0],
        &[0.3, 90.0, 4.0, 2.0],
        &[0.41, 8.17, 276.7, 9743.0],
        &[0.2, 3.8, 50.0, 1e5],
    ];
    for theta in pareto_points {
        for row in &histories {
            let e = gradient_error(&ParetoNbd, theta, row);
            assert!(e < 1e-6, "Pareto/NBD θ={theta:?} {row:?}: {e:e}");
        }
    }
    // BG/BB: (x, t_x, n) in whole opportunities.
    for theta in [[1.204, 0.75, 0.657, 2.783], [0.3, 4.0, 3.0, 0.2]] {
        for (x, t_x, n) in [
            (0.0, 0.0, 6.0),
            (1.0, 2.0, 6.0),
            (6.0, 6.0, 6.0),
            (3.0, 10.0, 40.0),
        ] {
            let row = pattern(x, t_x, n);
            let e = gradient_error(&BgBb, &theta, &row);
            assert!(e < 1e-6, "BG/BB θ={theta:?} {row:?}: {e:e}");
        }
    }
    for theta in [[0.704, 1.182], [5.0, 0.3]] {
        for (periods, churned) in [(1.0, true), (7.0, true), (0.0, false), (12.0, false)] {
            let row = Tenure {
                periods,
                churned,
                weight: 1.0,
            };
            let e = gradient_error(&ShiftedBetaGeometric, &theta, &row);
            assert!(e < 1e-6, "sBG θ={theta:?} {row:?}: {e:e}");
        }
    }
    let spend = [
        SpendPattern {
            x: 1.0,
            m: 12.5,
            weight: 1.0,
        },
        SpendPattern {
            x: 40.0,
            m: 230.0,
            weight: 1.0,
        },
    ];
    for theta in [[6.25, 3.74, 15.44], [0.3, 1.2, 900.0]] {
        for row in &spend {
            let e = gradient_error(&GammaGamma, &theta, row);
            assert!(e < 1e-6, "θ={theta:?} {row:?}: {e:e}");
        }
    }
}
