//! Every model's analytic gradient against central finite differences, over parameter points that
//! include the awkward corners (a + b < 1, lifetimes#442; large rates; heavy buyers).

use clv_models::{gradient_error, BgNbd, GammaGamma, MbgNbd, Pattern, SpendPattern};

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
    ];
    let purchase_points: [&[f64]; 3] = [
        &[0.2425982, 4.4136842, 0.7929899, 2.4261667],
        &[0.3, 0.5, 0.2, 0.4],
        &[5.0, 80.0, 3.0, 12.0],
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
