//! Pictures of a training run: loss and accuracy per epoch as an SVG (feature `plot`).
//!
//! [`history_svg`] draws a [`History`] as two panels side by side: the loss per epoch on a
//! logarithmic axis (left) and the accuracy (right; left out when the loss has no accuracy,
//! as with `mse`), each with the training curve and, when `fit` had validation data, the
//! validation curve. Epochs are integer ticks. A dashed vertical line and a dot on the
//! validation curve (the training curve without validation data) mark the best epoch, the
//! one whose weights `fit` kept. [`save_history_svg`] writes the same picture to a file.
//!
//! The picture is deterministic: the same history gives the same bytes.
//!
//! ```
//! use nn_runtime::train::{EpochStats, History, Metrics};
//! use std::time::Duration;
//!
//! let epoch = |epoch: usize, loss: f64, accuracy: f64| EpochStats {
//!     epoch,
//!     train: Metrics { loss, accuracy: Some(accuracy) },
//!     validation: Some(Metrics { loss: loss * 1.2, accuracy: Some(accuracy - 0.05) }),
//!     learning_rate: 1e-3,
//!     elapsed: Duration::ZERO,
//! };
//! let history = History {
//!     epochs: vec![epoch(1, 2.0, 0.4), epoch(2, 0.5, 0.8), epoch(3, 0.2, 0.9)],
//!     best_epoch: 3,
//!     ..History::default()
//! };
//! let svg = nn_runtime::plot::history_svg(&history)?;
//! assert!(svg.starts_with("<svg") && svg.contains("best epoch 3 (kept)"));
//! # Ok::<(), nn_runtime::plot::PlotError>(())
//! ```

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::types::RangedCoordu32;
use plotters::element::{Circle, PathElement};
use plotters::prelude::{
    ChartBuilder, DrawingArea, IntoDrawingArea, IntoLogRange, LineSeries, SVGBackend,
    SeriesLabelPosition,
};
use plotters::style::{BLACK, BLUE, Color, RED, RGBColor, ShapeStyle, WHITE};

use crate::train::{EpochStats, History};

/// Width and height in pixels of one panel (loss or accuracy).
const PANEL: (u32, u32) = (520, 420);
/// The colour of the best-epoch marker line.
const GREY: RGBColor = RGBColor(128, 128, 128);

/// Why a history could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The history has no epochs.
    #[error("the history has no epochs, so there is nothing to plot; train for at least one epoch")]
    EmptyHistory,
    /// A loss or an accuracy is NaN or infinite (`fit` never records one).
    #[error("epoch {epoch}: the {what} is {value}; a plot needs finite values")]
    NonFinite {
        /// The epoch, from 1.
        epoch: usize,
        /// What is not finite: `training loss`, `validation accuracy`, ...
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// `best_epoch` is not one of the history's epochs.
    #[error(
        "`best_epoch` is {best_epoch} but the history has epochs {first} to {last}; \
         set it to the epoch whose weights were kept"
    )]
    BestEpochOutOfRange {
        /// The history's `best_epoch`.
        best_epoch: usize,
        /// The first epoch of the history.
        first: usize,
        /// The last epoch of the history.
        last: usize,
    },
    /// Drawing failed inside the plotting library.
    #[error("drawing the plot failed: {0}")]
    Draw(String),
    /// The picture could not be written.
    #[error("cannot write the plot to `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Draws the loss (log scale) and accuracy per epoch of `history` as an SVG document.
///
/// Training curves are blue, validation curves red; the best epoch (the one whose weights
/// `fit` kept) is marked by a dashed grey line and a black dot on the validation curve (on the
/// training curve without validation data). A loss of 0 or below, which a logarithmic axis
/// cannot show, is drawn at the bottom of the axis; a history of one epoch, as dots. The accuracy panel is left out when no
/// epoch has an accuracy (`mse`). See the [module documentation](self) for an example.
///
/// # Errors
///
/// [`PlotError::EmptyHistory`] for a history without epochs, [`PlotError::NonFinite`] for a
/// NaN or infinite loss or accuracy, [`PlotError::BestEpochOutOfRange`] for a `best_epoch`
/// that is not one of the epochs (none of these come out of `fit`).
pub fn history_svg(history: &History) -> Result<String, PlotError> {
    let epochs = check(history)?;
    let has_accuracy = history.epochs.iter().any(|e| e.train.accuracy.is_some());
    let panels = if has_accuracy { 2 } else { 1 };
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (PANEL.0 * panels, PANEL.1)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let areas = root.split_evenly((1, panels as usize));
        draw_panel(&areas[0], history, &epochs, &LOSS)?;
        if has_accuracy {
            draw_panel(&areas[1], history, &epochs, &ACCURACY)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Writes [`history_svg`]`(history)` to the file `path`, replacing it.
///
/// # Errors
///
/// Those of [`history_svg`], and [`PlotError::Write`] when the file cannot be written.
pub fn save_history_svg(history: &History, path: impl AsRef<Path>) -> Result<(), PlotError> {
    let path = path.as_ref();
    let svg = history_svg(history)?;
    std::fs::write(path, svg).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// One panel: which metric, how its axis is scaled and labelled.
struct Panel {
    caption: &'static str,
    axis: &'static str,
    log_scale: bool,
    legend: fn() -> SeriesLabelPosition,
    train: fn(&EpochStats) -> Option<f64>,
    validation: fn(&EpochStats) -> Option<f64>,
}

const LOSS: Panel = Panel {
    caption: "loss",
    axis: "loss (log scale)",
    log_scale: true,
    // Loss falls from the left: the upper right is usually empty.
    legend: || SeriesLabelPosition::UpperRight,
    train: |e| Some(e.train.loss),
    validation: |e| e.validation.map(|v| v.loss),
};

const ACCURACY: Panel = Panel {
    caption: "accuracy",
    axis: "accuracy",
    log_scale: false,
    legend: || SeriesLabelPosition::LowerRight,
    train: |e| e.train.accuracy,
    validation: |e| e.validation.and_then(|v| v.accuracy),
};

/// Checks that every value is finite and `best_epoch` is an epoch; returns the epoch range.
fn check(history: &History) -> Result<Range<u32>, PlotError> {
    let (Some(first), Some(last)) = (history.epochs.first(), history.epochs.last()) else {
        return Err(PlotError::EmptyHistory);
    };
    for e in &history.epochs {
        let values = [
            ("training loss", Some(e.train.loss)),
            ("training accuracy", e.train.accuracy),
            ("validation loss", e.validation.map(|v| v.loss)),
            ("validation accuracy", e.validation.and_then(|v| v.accuracy)),
        ];
        for (what, value) in values {
            if let Some(value) = value.filter(|v| !v.is_finite()) {
                return Err(PlotError::NonFinite {
                    epoch: e.epoch,
                    what,
                    value,
                });
            }
        }
    }
    if !history.epochs.iter().any(|e| e.epoch == history.best_epoch) {
        return Err(PlotError::BestEpochOutOfRange {
            best_epoch: history.best_epoch,
            first: first.epoch,
            last: last.epoch,
        });
    }
    // One epoch still gets an axis of width one, so the point is not on a degenerate range.
    let start = to_u32(first.epoch);
    Ok(start..to_u32(last.epoch).max(start + 1))
}

fn to_u32(epoch: usize) -> u32 {
    u32::try_from(epoch).unwrap_or(u32::MAX - 1)
}

fn draw_error(error: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(error.to_string())
}

/// The points `(epoch, value)` of one curve.
fn curve(history: &History, metric: fn(&EpochStats) -> Option<f64>) -> Vec<(u32, f64)> {
    let points = history.epochs.iter();
    points
        .filter_map(|e| metric(e).map(|v| (to_u32(e.epoch), v)))
        .collect()
}

/// Draws one panel of `history` into `area`.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    history: &History,
    epochs: &Range<u32>,
    panel: &Panel,
) -> Result<(), PlotError> {
    let train = curve(history, panel.train);
    let validation = curve(history, panel.validation);
    let values = train.iter().chain(&validation).map(|&(_, v)| v);
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(panel.caption, ("sans-serif", 24))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64);
    // The dot marks the validation curve, or the training curve without validation data.
    let marked = if validation.is_empty() {
        &train
    } else {
        &validation
    };
    let best = to_u32(history.best_epoch);
    let best_value = marked.iter().find(|&&(x, _)| x == best).map(|&(_, v)| v);
    if panel.log_scale {
        let (floor, ceiling) = log_range(&train, &validation);
        let clip = |points: &[(u32, f64)]| -> Vec<(u32, f64)> {
            points.iter().map(|&(x, v)| (x, v.max(floor))).collect()
        };
        let mut chart = chart
            .build_cartesian_2d(
                epochs.clone(),
                (floor..ceiling)
                    .log_scale()
                    .with_key_points(log_ticks(floor, ceiling)),
            )
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 16))
            .max_light_lines(1)
            .axis_desc_style(("sans-serif", 18))
            .x_desc("epoch")
            .y_desc(panel.axis)
            .x_label_formatter(&|x| x.to_string())
            .y_label_formatter(&|y| tick(*y))
            .draw()
            .map_err(draw_error)?;
        let (train, validation) = (clip(&train), clip(&validation));
        let best_value = best_value.map(|v| v.max(floor));
        draw_curves(
            &mut chart,
            [train, validation],
            best,
            dashes(floor, ceiling, true),
        )?;
        draw_best(&mut chart, best, best_value, (panel.legend)())?;
    } else {
        // Accuracy: the data's range with a margin, within [0, 1].
        let margin = ((high - low) * 0.05).max(0.01);
        let range = (low - margin).max(0.0)..(high + margin).min(1.0);
        let mut chart = chart
            .build_cartesian_2d(epochs.clone(), range.clone())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 16))
            .max_light_lines(1)
            .axis_desc_style(("sans-serif", 18))
            .x_desc("epoch")
            .y_desc(panel.axis)
            .x_label_formatter(&|x| x.to_string())
            .y_label_formatter(&|y| tick(*y))
            .draw()
            .map_err(draw_error)?;
        draw_curves(
            &mut chart,
            [train, validation],
            best,
            dashes(range.start, range.end, false),
        )?;
        draw_best(&mut chart, best, best_value, (panel.legend)())?;
    }
    Ok(())
}

/// The loss axis: from a little below the smallest positive loss to a little above the
/// largest (one decade when every loss is 0 or below).
fn log_range(train: &[(u32, f64)], validation: &[(u32, f64)]) -> (f64, f64) {
    let positive = train.iter().chain(validation).map(|&(_, v)| v);
    let positive = positive.filter(|&v| v > 0.0);
    let (low, high) = positive.fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    if low.is_finite() {
        // A tenth of the span in log space on each side, at least a factor 1.1.
        let pad = (high / low).powf(0.1).max(1.1);
        (low / pad, high * pad)
    } else {
        (0.1, 1.0)
    }
}

/// The ticks of the loss axis: 1, 2, 5 times the powers of ten in `[floor, ceiling]` (only the
/// powers over many decades, every digit over less than one), at least two.
fn log_ticks(floor: f64, ceiling: f64) -> Vec<f64> {
    let decades = floor.log10().floor() as i32..=ceiling.log10().ceil() as i32;
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let decades = decades.clone();
        // Parsed, not multiplied, so that a tick is the float nearest `2e-5`.
        let value = |m: &f64, k: i32| format!("{m}e{k}").parse::<f64>().unwrap_or(f64::NAN);
        let values = decades.flat_map(|k| mantissas.iter().map(move |m| value(m, k)));
        values.filter(|v| (floor..=ceiling).contains(v)).collect()
    };
    let powers = ticks(&[1.0]);
    if powers.len() > 10 {
        // Every `step`-th power of ten, so that at most ten remain.
        let step = powers.len().div_ceil(10);
        return powers.into_iter().step_by(step).collect();
    }
    if powers.len() >= 4 {
        return powers;
    }
    let coarse = ticks(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 4 {
        return coarse;
    }
    let fine = ticks(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if fine.len() >= 2 {
        return fine;
    }
    // Less than a tenth of a decade: the ends, to two significant digits.
    [floor, ceiling]
        .map(|v| {
            let scale = 10f64.powi(v.log10().floor() as i32 - 1);
            (v / scale).round() * scale
        })
        .to_vec()
}

/// A tick label: plain decimals from 0.001 to 10⁴, else scientific (`1e-5`).
fn tick(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || (1e-3..1e4).contains(&magnitude) {
        // Four significant digits, trailing zeros dropped.
        let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{value:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        let mut text = String::new();
        let _ = write!(text, "{value:.0e}");
        text
    }
}

type Chart<'a, Y> = plotters::chart::ChartContext<
    'a,
    SVGBackend<'a>,
    plotters::coord::cartesian::Cartesian2d<RangedCoordu32, Y>,
>;

/// Draws the training (blue) and validation (red) curves and the dashed best-epoch line.
fn draw_curves<Y>(
    chart: &mut Chart<'_, Y>,
    [train, validation]: [Vec<(u32, f64)>; 2],
    best: u32,
    segments: Vec<(f64, f64)>,
) -> Result<(), PlotError>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let line = GREY.stroke_width(1);
    chart
        .draw_series(
            segments
                .into_iter()
                .map(|(a, b)| PathElement::new(vec![(best, a), (best, b)], line)),
        )
        .map_err(draw_error)?;
    for (points, label, color) in [(train, "train", BLUE), (validation, "validation", RED)] {
        if points.is_empty() {
            continue;
        }
        let style = color.stroke_width(2);
        // A line through one point (a single epoch) draws nothing: a dot shows it.
        let single = (points.len() == 1).then(|| Circle::new(points[0], 3, color.filled()));
        chart.draw_series(single).map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(draw_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    Ok(())
}

/// The dashes of the best-epoch line from `bottom` to `top`: 20 dashes, each half of its
/// period, evenly spaced on the axis (`log`: a logarithmic one).
fn dashes(bottom: f64, top: f64, log: bool) -> Vec<(f64, f64)> {
    let to = |v: f64| if log { v.ln() } else { v };
    let from = |v: f64| if log { v.exp() } else { v };
    let (b, t) = (to(bottom), to(top));
    let period = (t - b) / 20.0;
    (0..20)
        .map(|i| {
            let start = b + period * f64::from(i);
            (from(start), from(start + period / 2.0))
        })
        .collect()
}

/// Draws the dot at the best epoch and its legend entry.
fn draw_best<Y>(
    chart: &mut Chart<'_, Y>,
    best: u32,
    value: Option<f64>,
    legend: SeriesLabelPosition,
) -> Result<(), PlotError>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let dot = ShapeStyle::from(&BLACK).filled();
    chart
        .draw_series(value.map(|v| Circle::new((best, v), 5, dot)))
        .map_err(draw_error)?
        .label(format!("best epoch {best} (kept)"))
        .legend(move |(x, y)| Circle::new((x + 10, y), 5, dot));
    chart
        .configure_series_labels()
        .position(legend)
        .label_font(("sans-serif", 16))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(draw_error)
}

#[cfg(test)]
mod tests;
