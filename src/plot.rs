//! Loss and accuracy curves of a training run, as an SVG picture.

use std::path::Path;

use nn_runtime::train::History;
use plotters::prelude::*;

/// Draws the training and validation loss (left) and accuracy (right) per epoch into an SVG.
pub fn history(history: &History, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let epochs = history.epochs.len().max(1) as f64;
    let series = |f: &dyn Fn(&nn_runtime::train::EpochStats) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
            .collect()
    };
    type Points = Vec<(f64, f64)>;
    let panels: [(&_, &str, Points, Points); 2] = [
        (
            &left,
            "loss",
            series(&|e| Some(e.train.loss)),
            series(&|e| e.validation.map(|v| v.loss)),
        ),
        (
            &right,
            "accuracy",
            series(&|e| e.train.accuracy),
            series(&|e| e.validation.and_then(|v| v.accuracy)),
        ),
    ];
    for (area, name, train, validation) in panels {
        let values = train.iter().chain(&validation).map(|p| p.1);
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let (low, high) = if low.is_finite() {
            (low, high.max(low + 1e-9))
        } else {
            (0.0, 1.0)
        };
        let margin = (high - low) * 0.05;
        let mut chart = ChartBuilder::on(area)
            .caption(name, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(1f64..epochs.max(2.0), (low - margin)..(high + margin))?;
        chart.configure_mesh().x_desc("epoch").draw()?;
        for (points, label, color) in [(train, "train", BLUE), (validation, "validation", RED)] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
