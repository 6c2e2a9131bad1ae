//! The pictures `plot` draws: labels, marks, determinism and the errors.

use super::*;
use crate::train::{Metrics, Stop};
use std::time::Duration;

/// Ten epochs, validation loss lowest at epoch 7 (early stopping kept it).
fn history() -> History {
    let epochs = (1..=10)
        .map(|epoch| {
            let t = epoch as f64;
            EpochStats {
                epoch,
                train: Metrics {
                    loss: 2.0 / t,
                    accuracy: Some(1.0 - 0.5 / t),
                },
                validation: Some(Metrics {
                    loss: 2.2 / t + 0.05 * (t - 7.0).powi(2),
                    accuracy: Some(0.95 - 0.5 / t),
                }),
                learning_rate: 1e-3,
                elapsed: Duration::from_millis(10),
            }
        })
        .collect();
    History {
        epochs,
        best_epoch: 7,
        stopped_early: true,
        stop: Stop::EarlyStopping,
    }
}

/// The curves drawn in `color` (`#FF0000`), in document order: the points of each
/// `<polyline>` of more than two points (a legend entry's line has two).
fn curves(svg: &str, color: &str) -> Vec<Vec<(i32, i32)>> {
    let stroke = format!("stroke=\"{color}\"");
    let lines = svg
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&stroke));
    let pair = |p: &str| {
        let (x, y) = p.split_once(',').unwrap();
        (x.parse().unwrap(), y.parse().unwrap())
    };
    let points = |l: &str| -> Vec<(i32, i32)> {
        let points = l.split("points=\"").nth(1).unwrap().split('"').next();
        points.unwrap().split_whitespace().map(pair).collect()
    };
    lines.map(points).filter(|p| p.len() > 2).collect()
}

/// The centres of the `<circle>`s, in document order.
fn circles(svg: &str) -> Vec<(i32, i32)> {
    let attribute = |l: &str, name: &str| -> i32 {
        let value = l.split(&format!(" {name}=\"")).nth(1).unwrap();
        value.split('"').next().unwrap().parse().unwrap()
    };
    svg.lines()
        .filter(|l| l.starts_with("<circle"))
        .map(|l| (attribute(l, "cx"), attribute(l, "cy")))
        .collect()
}

#[test]
fn draws_the_axis_labels_and_legend() {
    let svg = history_svg(&history()).unwrap();
    // Text elements hold their text on a line of its own.
    let texts: Vec<&str> = svg.lines().collect();
    for text in [
        "loss",
        "accuracy",
        "epoch",
        "loss (log scale)",
        "train",
        "validation",
        "best epoch 7 (kept)",
    ] {
        assert!(texts.contains(&text), "no text `{text}` in the svg");
    }
    // Integer epoch ticks 1 to 10 on both panels, no fractional epochs: the texts on the
    // row of the tick `10` (an epoch only).
    let row = |line: &str| -> Option<String> {
        let y = line.split(" y=\"").nth(1)?;
        y.split('"').next().map(str::to_owned)
    };
    let ten = texts.iter().position(|&t| t == "10").unwrap();
    let epochs: Vec<&str> = (1..texts.len())
        .filter(|&i| texts[i - 1].starts_with("<text") && row(texts[i - 1]) == row(texts[ten - 1]))
        .map(|i| texts[i])
        .collect();
    let ticks: Vec<String> = (1..=10).map(|e| e.to_string()).collect();
    assert_eq!(epochs, [ticks.clone(), ticks].concat());
    // The loss axis is logarithmic: its ticks are 1, 2, 5 times powers of ten.
    for tick in ["0.2", "0.5", "1", "2"] {
        assert!(texts.contains(&tick), "no loss tick {tick}");
    }
}

#[test]
fn marks_the_best_epoch_on_the_validation_curves() {
    for best_epoch in [7, 3] {
        let history = History {
            best_epoch,
            ..history()
        };
        let svg = history_svg(&history).unwrap();
        let validation = curves(&svg, "#FF0000");
        assert_eq!(validation.len(), 2, "loss and accuracy");
        let loss = validation[0][best_epoch - 1];
        let accuracy = validation[1][best_epoch - 1];
        // Each panel: the dot on the curve, then the dot of its legend entry.
        let dots = circles(&svg);
        assert_eq!(dots.len(), 4, "{dots:?}");
        assert_eq!(
            (dots[0], dots[2]),
            (loss, accuracy),
            "best epoch {best_epoch}"
        );
        let label = format!("best epoch {best_epoch} (kept)");
        assert_eq!(svg.lines().filter(|&l| l == label).count(), 2);
    }
}

#[test]
fn without_validation_data_marks_the_training_curve() {
    let mut history = history();
    for e in &mut history.epochs {
        e.validation = None;
    }
    let svg = history_svg(&history).unwrap();
    assert!(!svg.contains("#FF0000"), "no validation curve");
    assert_eq!(circles(&svg)[0], curves(&svg, "#0000FF")[0][6]);
}

#[test]
fn is_deterministic_and_ignores_wall_time() {
    let mut slower = history();
    for e in &mut slower.epochs {
        e.elapsed *= 3;
    }
    let svg = history_svg(&history()).unwrap();
    assert_eq!(svg, history_svg(&history()).unwrap());
    assert_eq!(svg, history_svg(&slower).unwrap());
}

#[test]
fn without_accuracy_draws_the_loss_panel_only() {
    let mut history = history();
    for e in &mut history.epochs {
        e.train.accuracy = None;
        e.validation = e.validation.map(|v| Metrics {
            accuracy: None,
            ..v
        });
    }
    let svg = history_svg(&history).unwrap();
    assert!(
        svg.starts_with(r#"<svg width="520" height="420""#),
        "{}",
        &svg[..60]
    );
    assert!(!svg.lines().any(|l| l == "accuracy"));
    assert_eq!(circles(&svg).len(), 2);
}

#[test]
fn a_zero_loss_sits_at_the_bottom_of_the_log_axis() {
    let mut history = history();
    history.epochs[9].train.loss = 0.0;
    let svg = history_svg(&history).unwrap();
    let train = &curves(&svg, "#0000FF")[0];
    let lowest = train.iter().map(|p| p.1).max().unwrap();
    assert_eq!(train[9].1, lowest);
    assert!(train[9].1 > train[8].1);
}

#[test]
fn a_single_epoch_is_drawn_as_dots() {
    let mut history = history();
    history.epochs.truncate(1);
    history.best_epoch = 1;
    let svg = history_svg(&history).unwrap();
    // A line through one point draws nothing: each curve gets a dot of its colour.
    for color in ["#0000FF", "#FF0000"] {
        let fill = format!("fill=\"{color}\"");
        let dots = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains(&fill));
        assert_eq!(dots.count(), 2, "{color}: loss and accuracy");
    }
}

#[test]
fn rejects_what_it_cannot_draw() {
    let empty = History::default();
    assert_eq!(
        history_svg(&empty).unwrap_err().to_string(),
        "the history has no epochs, so there is nothing to plot; train for at least one epoch"
    );
    let mut nan = history();
    nan.epochs[4].validation.as_mut().unwrap().loss = f64::NAN;
    assert_eq!(
        history_svg(&nan).unwrap_err().to_string(),
        "epoch 5: the validation loss is NaN; a plot needs finite values"
    );
    let late = History {
        best_epoch: 11,
        ..history()
    };
    assert_eq!(
        history_svg(&late).unwrap_err().to_string(),
        "`best_epoch` is 11 but the history has epochs 1 to 10; \
         set it to the epoch whose weights were kept"
    );
}

#[test]
fn saves_the_svg_and_names_the_file_it_cannot_write() {
    let dir = std::env::temp_dir().join(format!("nn-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("curves.svg");
    save_history_svg(&history(), &path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, history_svg(&history()).unwrap());
    let missing = dir.join("no-such-dir").join("curves.svg");
    let error = save_history_svg(&history(), &missing)
        .unwrap_err()
        .to_string();
    let expected = format!("cannot write the plot to `{}`: ", missing.display());
    assert!(error.starts_with(&expected), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_ticks_fit_the_range() {
    assert_eq!(log_ticks(0.15, 3.5), [0.2, 0.5, 1.0, 2.0]);
    assert_eq!(log_ticks(1e-6, 10.0).len(), 8);
    // 31 powers of ten: every fourth.
    let sparse = [1e-30, 1e-26, 1e-22, 1e-18, 1e-14, 1e-10, 1e-6, 1e-2];
    assert_eq!(log_ticks(1e-30, 1.0), sparse);
    assert_eq!(log_ticks(0.31, 0.34), [0.31, 0.34]);
    assert_eq!(tick(0.5), "0.5");
    assert_eq!(tick(2e-5), "2e-5");
    assert_eq!(tick(0.95), "0.95");
}
