//! Predicted classes and the usual scores: a confusion matrix with per-class precision, recall
//! and F1 for classifiers; MSE, MAE and R² for regressors.
//!
//! The conventions are scikit-learn's (`confusion_matrix`, `precision_recall_fscore_support`,
//! `mean_squared_error`, `mean_absolute_error`, `r2_score`), so numbers compare directly. The
//! loss and accuracy of a network on a dataset are [`train::evaluate`](crate::train::evaluate).
//!
//! # Examples
//!
//! ```
//! use nn_runtime::data::Dataset;
//! use nn_runtime::metrics::{self, ConfusionMatrix};
//!
//! let truth = [0, 0, 1, 1, 2, 2];
//! let predicted = [0, 1, 1, 1, 2, 0];
//! let matrix = ConfusionMatrix::new(3, &truth, &predicted)?;
//! assert_eq!(matrix.count(0, 1), 1);          // one 0 taken for a 1
//! assert_eq!(matrix.recall(0), 0.5);          // of the two 0s, one found
//! assert_eq!(matrix.precision(1), 2.0 / 3.0); // of the three predicted 1s, two right
//! println!("{matrix}");
//! # Ok::<(), nn_runtime::metrics::MetricsError>(())
//! ```
//!
//! With a network, [`predict_class`] and [`predict_classes`] give the classes and
//! [`ConfusionMatrix::of`] and [`Regression::of`] score a [`Dataset`].
//!
//! # Errors
//!
//! Scores of no samples, label and prediction lists of different lengths and a class past the
//! matrix are a [`MetricsError`]; nothing here panics on user input. A ratio whose
//! denominator is 0 (the precision of a class never predicted, the recall of a class absent
//! from the truth) is 0, as scikit-learn's default `zero_division`.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use nalgebra::SVector;

use crate::data::{Dataset, class_of};
use crate::{Batch, Network, Real};

/// Why a score could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// There are no samples: every score would be `0 / 0`.
    #[error("cannot score no samples: the {what} needs at least one")]
    Empty {
        /// The score.
        what: &'static str,
    },
    /// The true labels and the predictions have different lengths.
    #[error("{truth} true labels but {predicted} predictions; give one prediction per label")]
    Lengths {
        /// Number of true labels.
        truth: usize,
        /// Number of predictions.
        predicted: usize,
    },
    /// A label or prediction is not below the number of classes.
    #[error(
        "{} {index} is class {class}, but the matrix has {classes} classes (0..{classes})",
        if *prediction { "prediction" } else { "true label" }
    )]
    ClassOutOfRange {
        /// Its position in the list.
        index: usize,
        /// The class.
        class: usize,
        /// The number of classes.
        classes: usize,
        /// Whether it is a prediction (else a true label).
        prediction: bool,
    },
}

/// The class `net` predicts for `x`: the index of the largest output (softmax
/// cross-entropy); with one output (binary cross-entropy), 1 if the probability is above ½
/// (the logit above 0), else 0.
///
/// The same rule as [`Dataset::labels`], applied to [`Network::predict`].
pub fn predict_class<T, N, const IN: usize, const OUT: usize>(net: &N, x: &SVector<T, IN>) -> usize
where
    T: Real,
    N: Network<T, IN, OUT>,
{
    class_of(&net.predict(x))
}

/// The class `net` predicts for each sample (column) of `inputs`, as [`predict_class`].
pub fn predict_classes<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    inputs: &Batch<T, IN>,
) -> Vec<usize>
where
    T: Real,
    N: Network<T, IN, OUT>,
{
    if inputs.ncols() == 0 {
        return Vec::new();
    }
    net.predict_batch(inputs)
        .column_iter()
        .map(|column| class_of(&column))
        .collect()
}

/// Counts of (true class, predicted class) pairs: row = truth, column = prediction, as
/// scikit-learn's `confusion_matrix`.
///
/// Displays as a table, true classes down, predicted across:
///
/// ```text
/// true\pred  0  1  2
///         0  1  1  0
///         1  0  2  0
///         2  1  0  1
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// `counts[truth * classes + predicted]`.
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// Counts the pairs `(truth[i], predicted[i])` over `classes` classes.
    ///
    /// # Errors
    ///
    /// A [`MetricsError`] if the lists are empty or of different lengths, or a class is
    /// `≥ classes`.
    pub fn new(classes: usize, truth: &[usize], predicted: &[usize]) -> Result<Self, MetricsError> {
        if truth.len() != predicted.len() {
            return Err(MetricsError::Lengths {
                truth: truth.len(),
                predicted: predicted.len(),
            });
        }
        if truth.is_empty() {
            return Err(MetricsError::Empty {
                what: "confusion matrix",
            });
        }
        let mut counts = vec![0; classes * classes];
        for (index, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
            for (class, prediction) in [(t, false), (p, true)] {
                if class >= classes {
                    return Err(MetricsError::ClassOutOfRange {
                        index,
                        class,
                        classes,
                        prediction,
                    });
                }
            }
            counts[t * classes + p] += 1;
        }
        Ok(Self { classes, counts })
    }

    /// The confusion matrix of `net` on `data`: its [`predict_classes`] against
    /// [`Dataset::labels`], over `OUT` classes (2 for a network with one output).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Empty`] if `data` has no samples.
    pub fn of<T, N, const IN: usize, const OUT: usize>(
        net: &N,
        data: &Dataset<T, IN, OUT>,
    ) -> Result<Self, MetricsError>
    where
        T: Real,
        N: Network<T, IN, OUT>,
    {
        let predicted = predict_classes(net, &data.inputs);
        Self::new(OUT.max(2), &data.labels(), &predicted)
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many samples of class `truth` were predicted as `predicted` (0 past the classes).
    pub fn count(&self, truth: usize, predicted: usize) -> usize {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted]
        } else {
            0
        }
    }

    /// The number of samples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The number of samples of class `class` (its support).
    pub fn support(&self, class: usize) -> usize {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// The fraction of samples predicted right: the trace over the total.
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.classes).map(|c| self.count(c, c)).sum();
        ratio(right, self.total())
    }

    /// Precision of `class`, `TP / (TP + FP)`: of the samples predicted as `class`, the
    /// fraction that are; 0 if none is.
    pub fn precision(&self, class: usize) -> f64 {
        let predicted: usize = (0..self.classes).map(|t| self.count(t, class)).sum();
        ratio(self.count(class, class), predicted)
    }

    /// Recall of `class`, `TP / (TP + FN)`: of the samples of `class`, the fraction predicted
    /// as it; 0 if there are none.
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.count(class, class), self.support(class))
    }

    /// F1 score of `class`, the harmonic mean `2PR / (P + R)` of its precision and recall; 0
    /// if both are 0.
    pub fn f1(&self, class: usize) -> f64 {
        let (p, r) = (self.precision(class), self.recall(class));
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }

    /// The unweighted mean of [`ConfusionMatrix::precision`] over the classes
    /// (scikit-learn's `average="macro"`).
    pub fn macro_precision(&self) -> f64 {
        self.macro_mean(Self::precision)
    }

    /// The unweighted mean of [`ConfusionMatrix::recall`] over the classes.
    pub fn macro_recall(&self) -> f64 {
        self.macro_mean(Self::recall)
    }

    /// The unweighted mean of the per-class [`ConfusionMatrix::f1`] over the classes (as
    /// scikit-learn, not the F1 of the macro precision and recall).
    pub fn macro_f1(&self) -> f64 {
        self.macro_mean(Self::f1)
    }

    /// A per-class table of precision, recall, F1 and support, with the macro averages and
    /// the accuracy (as scikit-learn's `classification_report`), for printing.
    ///
    /// ```
    /// use nn_runtime::metrics::ConfusionMatrix;
    /// let matrix = ConfusionMatrix::new(2, &[0, 0, 1, 1], &[0, 1, 1, 1])?;
    /// assert_eq!(
    ///     matrix.report().to_string(),
    ///     "\
    /// class     precision  recall     f1  support
    /// 0             1.000   0.500  0.667        2
    /// 1             0.667   1.000  0.800        2
    /// macro avg     0.833   0.750  0.733        4
    /// accuracy                     0.750        4"
    /// );
    /// # Ok::<(), nn_runtime::metrics::MetricsError>(())
    /// ```
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }

    fn macro_mean(&self, score: fn(&Self, usize) -> f64) -> f64 {
        let sum: f64 = (0..self.classes).map(|c| score(self, c)).sum();
        sum / self.classes.max(1) as f64
    }
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's default `zero_division`).
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CORNER: &str = "true\\pred";
        let largest = self.counts.iter().copied().max().unwrap_or(0);
        let width = digits(largest).max(digits(self.classes.saturating_sub(1)));
        write!(f, "{CORNER}")?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        for t in 0..self.classes {
            write!(f, "\n{t:>w$}", w = CORNER.len())?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
        }
        Ok(())
    }
}

/// The number of decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// The per-class scores of a [`ConfusionMatrix`] as a table ([`ConfusionMatrix::report`]);
/// scores with 3 decimals.
#[derive(Clone, Copy, Debug)]
pub struct Report<'a>(&'a ConfusionMatrix);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let row = |f: &mut fmt::Formatter<'_>, name: &dyn fmt::Display, p, r, s, n| {
            write!(f, "{name:<14}{p:>5.3}   {r:>5.3}  {s:>5.3}  {n:>7}")
        };
        write!(f, "class     precision  recall     f1  support")?;
        for c in 0..m.classes() {
            f.write_str("\n")?;
            row(f, &c, m.precision(c), m.recall(c), m.f1(c), m.support(c))?;
        }
        f.write_str("\n")?;
        let (p, r, s) = (m.macro_precision(), m.macro_recall(), m.macro_f1());
        row(f, &"macro avg", p, r, s, m.total())?;
        write!(
            f,
            "\n{:<29}{:>5.3}  {:>7}",
            "accuracy",
            m.accuracy(),
            m.total()
        )
    }
}

/// Regression scores: mean squared error, mean absolute error and the coefficient of
/// determination R², each over all outputs.
///
/// `mse = mean((ŷ − y)²)` and `mae = mean(|ŷ − y|)` over every output of every sample (the
/// element mean, as [`loss::mse`](crate::loss::mse)); `r2` is the mean over the outputs of
/// `1 − Σ(ŷ − y)² / Σ(y − ȳ)²` (scikit-learn's `r2_score`, `multioutput="uniform_average"`).
/// An output whose target is constant has R² 1 if it is predicted exactly, else 0 (as
/// scikit-learn, rather than a division by 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regression {
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination (1 is perfect, 0 is predicting the mean).
    pub r2: f64,
}

impl Regression {
    /// The scores of `predictions` against `targets`, one sample per column.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::Batch;
    /// use nn_runtime::metrics::Regression;
    /// let targets = Batch::<f64, 1>::from_column_slice(&[3.0, -0.5, 2.0, 7.0]);
    /// let predictions = Batch::<f64, 1>::from_column_slice(&[2.5, 0.0, 2.0, 8.0]);
    /// let scores = Regression::new(&predictions, &targets)?;
    /// assert_eq!(scores.mse, 0.375);
    /// assert_eq!(scores.mae, 0.5);
    /// assert!((scores.r2 - 0.948_608_137_044_967_9).abs() < 1e-15); // scikit-learn's r2_score
    /// # Ok::<(), nn_runtime::metrics::MetricsError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`MetricsError::Empty`] with no samples, [`MetricsError::Lengths`] if the counts of
    /// columns differ.
    pub fn new<T: Real, const OUT: usize>(
        predictions: &Batch<T, OUT>,
        targets: &Batch<T, OUT>,
    ) -> Result<Self, MetricsError> {
        if predictions.ncols() != targets.ncols() {
            return Err(MetricsError::Lengths {
                truth: targets.ncols(),
                predicted: predictions.ncols(),
            });
        }
        if targets.ncols() == 0 || OUT == 0 {
            return Err(MetricsError::Empty {
                what: "regression score",
            });
        }
        let n = targets.ncols() as f64;
        let (mut squared, mut absolute, mut r2) = (0.0, 0.0, 0.0);
        for output in 0..OUT {
            let y = targets.row(output);
            let mean = y.iter().map(|v| v.to_f64()).sum::<f64>() / n;
            let (mut residual, mut total) = (0.0, 0.0);
            for (p, t) in predictions.row(output).iter().zip(y.iter()) {
                let (p, t) = (p.to_f64(), t.to_f64());
                residual += (p - t) * (p - t);
                absolute += (p - t).abs();
                total += (t - mean) * (t - mean);
            }
            squared += residual;
            r2 += match (total > 0.0, residual > 0.0) {
                (true, _) => 1.0 - residual / total,
                (false, false) => 1.0,
                (false, true) => 0.0,
            };
        }
        let elements = n * OUT as f64;
        Ok(Self {
            mse: squared / elements,
            mae: absolute / elements,
            r2: r2 / OUT as f64,
        })
    }

    /// The scores of `net`'s predictions ([`Network::predict_batch`]) on `data`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Empty`] if `data` has no samples.
    pub fn of<T, N, const IN: usize, const OUT: usize>(
        net: &N,
        data: &Dataset<T, IN, OUT>,
    ) -> Result<Self, MetricsError>
    where
        T: Real,
        N: Network<T, IN, OUT>,
    {
        if data.is_empty() {
            return Err(MetricsError::Empty {
                what: "regression score",
            });
        }
        Self::new(&net.predict_batch(&data.inputs), &data.targets)
    }
}
