//! Datasets: samples as the columns of a [`Batch`], validated where they enter.
//!
//! Every constructor checks each row (its width, that every feature is finite, that a class
//! label is in range) and reports the first bad row by number, so bad data stops at the door
//! instead of surfacing as a NaN loss many steps later.
//!
//! - From rows in memory: [`Dataset::classification`] (features and class labels) and
//!   [`Dataset::regression`] (features and dense targets), from `&[[T; N]]`, `&[Vec<T>]` or
//!   any rows that are `AsRef<[T]>`.
//! - From a CSV file (feature `csv`): [`Dataset::read_csv`] and
//!   [`Dataset::read_csv_regression`], configured by a [`Csv`]; errors name the file, the line
//!   and the column.
//! - Splitting: [`Dataset::split`] (shuffled) and [`Dataset::split_stratified`] (each class
//!   keeps its share).
//! - Scaling: [`Standardizer::fit`] on the training part, then [`Dataset::standardize`] every
//!   part.
//!
//! # Examples
//!
//! The whole path from rows to a score: build, split, standardize, train with
//! [`train::fit`](crate::train::fit), then score with
//! [`train::evaluate`](crate::train::evaluate) (loss and accuracy) and
//! [`metrics`](crate::metrics) (classes, confusion matrix, per-class scores).
//!
//! ```
//! use nn_runtime::data::{Dataset, Standardizer};
//! use nn_runtime::init::Init;
//! use nn_runtime::metrics::ConfusionMatrix;
//! use nn_runtime::optim::{Adam, AdamConfig};
//! use nn_runtime::train::{evaluate, fit, TrainConfig};
//!
//! nn_runtime::network! {
//!     struct Side { input: 2, h: dense(8, tanh), out: dense(2), loss: softmax_cross_entropy }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Class 1 above the line y = x, class 0 below; features on very different scales.
//! let rows: Vec<[f32; 2]> = (0..40).map(|i| [i as f32 * 10.0, (i * 7 % 40) as f32 * 10.0]).collect();
//! let labels: Vec<usize> = rows.iter().map(|r| usize::from(r[1] > r[0])).collect();
//! let data = Dataset::<f32, 2, 2>::classification(&rows, &labels)?;
//! let (mut test, mut train) = data.split_stratified(0.25, 1)?;
//! let standardizer = Standardizer::fit(&train);          // on the training part only
//! train.standardize(&standardizer);
//! test.standardize(&standardizer);
//!
//! let mut net: Box<Side> = Init::new(1).build()?;
//! let mut adam = Adam::new(AdamConfig { lr: 0.05, ..AdamConfig::default() })?;
//! let config = TrainConfig { epochs: 100, batch_size: 8, progress: false, ..TrainConfig::default() };
//! fit(&mut *net, &mut adam, &train, None, &config)?;
//!
//! let scores = evaluate(&*net, &test);                    // mean loss and accuracy
//! let matrix = ConfusionMatrix::of(&*net, &test)?;        // rows: truth, columns: prediction
//! assert_eq!(matrix.total(), 10);
//! assert_eq!(scores.accuracy, Some(matrix.accuracy()));
//! assert!(matrix.accuracy() >= 0.8, "{matrix}");
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Bad rows are a [`DataError`] naming the row (and column); a split fraction outside
//! `[0, 1]` is a [`ConfigError`] from [`Dataset::split`]. Nothing here panics on user input.
//! (The crate's error policy is in [`train`](crate::train#errors).)
// The CSV readers exist with the `csv` feature only; the docs above link them.
#![cfg_attr(not(feature = "csv"), allow(rustdoc::broken_intra_doc_links))]

use alloc::vec::Vec;

#[cfg(feature = "csv")]
mod csv;
#[cfg(feature = "csv")]
pub use csv::{Column, ColumnName, Csv, CsvError};

use nalgebra::{Dim, Matrix, RawStorage, SVector, U1};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::Real;
use crate::linalg::Batch;
use crate::train::ConfigError;

/// Why rows could not become a dataset. Rows are numbered from 0.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A row has the wrong number of features.
    #[error("row {row} has {found} features, but the network takes {expected}")]
    Width {
        /// The row.
        row: usize,
        /// The network's input width.
        expected: usize,
        /// The row's width.
        found: usize,
    },
    /// A target row has the wrong width.
    #[error("target of row {row} has width {found}, but the network outputs {expected}")]
    TargetWidth {
        /// The row.
        row: usize,
        /// The network's output width.
        expected: usize,
        /// The target's width.
        found: usize,
    },
    /// A feature or target is NaN or infinite.
    #[error(
        "row {row} has a NaN or infinite {} in column {column}",
        if *target { "target" } else { "feature" }
    )]
    NotFinite {
        /// The row.
        row: usize,
        /// The column within the row (feature or target index).
        column: usize,
        /// Whether it is a target value (else a feature).
        target: bool,
    },
    /// A class label is not below the number of classes.
    #[error(
        "row {row} has label {label}, but the network has {classes} classes (labels 0..{classes})"
    )]
    LabelOutOfRange {
        /// The row.
        row: usize,
        /// The label.
        label: usize,
        /// The number of classes (the network's output width).
        classes: usize,
    },
    /// A label other than 0 or 1 for a network with one output (a binary classifier).
    #[error(
        "row {row} has label {label}, but a network with 1 output takes the binary labels 0 \
         and 1; for more classes give the network one output per class and \
         `softmax_cross_entropy`"
    )]
    NotBinary {
        /// The row.
        row: usize,
        /// The label.
        label: usize,
    },
    /// Features and targets have different numbers of rows.
    #[error("{features} rows of features but {targets} rows of targets")]
    RowCounts {
        /// Rows of features.
        features: usize,
        /// Rows of targets.
        targets: usize,
    },
}

/// Samples for a network with `IN` inputs and `OUT` outputs: one sample per column.
///
/// Build one with [`Dataset::classification`], [`Dataset::regression`] or (feature `csv`)
/// [`Dataset::read_csv`]; train on it with [`train::fit`](crate::train::fit) and score it with
/// [`train::evaluate`](crate::train::evaluate) and [`metrics`](crate::metrics) (the
/// [module example](self#examples) does all of it).
///
/// # Examples
///
/// ```
/// use nn_runtime::data::Dataset;
/// // Two samples of 3 features with 2 targets each (regression): columns are samples.
/// let data = Dataset::<f64, 3, 2>::regression(
///     &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
///     &[[0.5, -0.5], [1.0, 0.0]],
/// )?;
/// assert_eq!(data.len(), 2);
/// assert_eq!(data.inputs.column(1).as_slice(), &[4.0, 5.0, 6.0]);
/// assert_eq!(data.targets[(0, 1)], 1.0);
/// # Ok::<(), nn_runtime::data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T: Real, const IN: usize, const OUT: usize> {
    /// Features, `[IN, samples]`.
    pub inputs: Batch<T, IN>,
    /// Targets, `[OUT, samples]` (one-hot for class labels).
    pub targets: Batch<T, OUT>,
}

impl<T: Real, const IN: usize, const OUT: usize> Dataset<T, IN, OUT> {
    /// A classification dataset: each row of `features` with its class `labels[row]`. Every
    /// row is checked (width, finite, label in range).
    ///
    /// With `OUT ≥ 2` outputs (`softmax_cross_entropy`), label `l < OUT` becomes the one-hot
    /// target `e_l`. With one output (a binary classifier, `binary_cross_entropy`), the labels
    /// are 0 and 1 and the target is the label itself, `0.0` or `1.0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::data::Dataset;
    /// let binary = Dataset::<f32, 2, 1>::classification(&[[0.0, 1.0], [1.0, 0.0]], &[1, 0]).unwrap();
    /// assert_eq!(binary.targets.as_slice(), &[1.0, 0.0]);
    /// assert_eq!(binary.labels(), [1, 0]);
    /// let three = Dataset::<f32, 2, 3>::classification(&[[0.0, 1.0]], &[2]).unwrap();
    /// assert_eq!(three.targets.as_slice(), &[0.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Errors
    ///
    /// A [`DataError`] naming the first bad row: a wrong width, a NaN or infinite feature, a
    /// label `≥ OUT` ([`DataError::LabelOutOfRange`]), or, for one output, a label other than
    /// 0 or 1 ([`DataError::NotBinary`]).
    pub fn classification<R: AsRef<[T]>>(
        features: &[R],
        labels: &[usize],
    ) -> Result<Self, DataError> {
        if features.len() != labels.len() {
            return Err(DataError::RowCounts {
                features: features.len(),
                targets: labels.len(),
            });
        }
        let inputs = columns(features, false)?;
        let mut targets = Batch::<T, OUT>::zeros(labels.len());
        for (row, &label) in labels.iter().enumerate() {
            match OUT {
                1 if label > 1 => return Err(DataError::NotBinary { row, label }),
                1 => targets[(0, row)] = T::constant(label as f64),
                _ if label >= OUT => {
                    return Err(DataError::LabelOutOfRange {
                        row,
                        label,
                        classes: OUT,
                    });
                }
                _ => targets[(label, row)] = T::one(),
            }
        }
        Ok(Self { inputs, targets })
    }

    /// A dataset with dense targets (regression, multi-label, soft labels): `targets[row]` is
    /// the target of `features[row]`. Every row is checked (widths, finite values).
    pub fn regression<R: AsRef<[T]>, S: AsRef<[T]>>(
        features: &[R],
        targets: &[S],
    ) -> Result<Self, DataError> {
        if features.len() != targets.len() {
            return Err(DataError::RowCounts {
                features: features.len(),
                targets: targets.len(),
            });
        }
        Ok(Self {
            inputs: columns(features, false)?,
            targets: columns(targets, true)?,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.ncols()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            inputs: self.inputs.select_columns(indices),
            targets: self.targets.select_columns(indices),
        }
    }

    /// Shuffles the samples with `seed`, then splits off the first `fraction` of them
    /// (rounded to the nearest sample): `(first, rest)`. The same seed gives the same split.
    /// For classes that must keep their shares, see [`Dataset::split_stratified`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::data::Dataset;
    /// let rows: Vec<[f32; 1]> = (0..10).map(|i| [i as f32]).collect();
    /// let data = Dataset::<f32, 1, 1>::regression(&rows, &rows)?;
    /// let (test, train) = data.split(0.2, 42)?;
    /// assert_eq!((test.len(), train.len()), (2, 8));
    /// assert_eq!(data.split(0.2, 42)?.0, test);            // the same seed, the same split
    /// assert!(data.split(1.5, 42).is_err());              // a fraction outside [0, 1]
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `fraction` is NaN or outside `[0, 1]`.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self), ConfigError> {
        ConfigError::fraction("Dataset::split", "fraction", fraction)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let cut = ((self.len() as f64) * fraction).round() as usize;
        Ok((self.select(&order[..cut]), self.select(&order[cut..])))
    }

    /// Shuffles and splits as [`Dataset::split`], keeping each class's share in both parts, as
    /// scikit-learn's `train_test_split(…, stratify=y)`: `(first, rest)`.
    ///
    /// The classes are those of [`Dataset::labels`]. The first part holds
    /// `round(len · fraction)` samples, as with `split`; of a class with `n` samples it holds
    /// `⌊n · fraction⌋` or one more (the extra samples go to the classes with the largest
    /// remainders, the first class first on a tie), so each class's count is within 1 of its
    /// exact share. Within each part the samples are shuffled. The same seed gives the same
    /// split.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::data::Dataset;
    /// // 8 samples of class 0 and 4 of class 1.
    /// let rows: Vec<[f32; 1]> = (0..12).map(|i| [i as f32]).collect();
    /// let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
    /// let data = Dataset::<f32, 1, 2>::classification(&rows, &labels)?;
    /// let (test, train) = data.split_stratified(0.25, 7)?;
    /// let count = |d: &Dataset<f32, 1, 2>, c| d.labels().iter().filter(|&&l| l == c).count();
    /// assert_eq!((count(&test, 0), count(&test, 1)), (2, 1));   // a quarter of each class
    /// assert_eq!((count(&train, 0), count(&train, 1)), (6, 3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `fraction` is NaN or outside `[0, 1]`.
    pub fn split_stratified(&self, fraction: f64, seed: u64) -> Result<(Self, Self), ConfigError> {
        ConfigError::fraction("Dataset::split_stratified", "fraction", fraction)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut classes: Vec<Vec<usize>> = Vec::new();
        for (index, label) in self.labels().into_iter().enumerate() {
            if classes.len() <= label {
                classes.resize_with(label + 1, Vec::new);
            }
            classes[label].push(index);
        }
        // Each class gets the floor of its exact share; the samples the floors leave short of
        // the total go, one each, to the classes with the largest remainders.
        let exact: Vec<f64> = classes.iter().map(|c| c.len() as f64 * fraction).collect();
        let mut cuts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
        let total = ((self.len() as f64) * fraction).round() as usize;
        let mut by_remainder: Vec<usize> = (0..classes.len()).collect();
        by_remainder.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor()))
        });
        let short = total.saturating_sub(cuts.iter().sum());
        for &class in by_remainder.iter().take(short) {
            cuts[class] += 1;
        }
        let (mut first, mut rest) = (Vec::new(), Vec::new());
        for (members, cut) in classes.iter_mut().zip(cuts) {
            members.shuffle(&mut rng);
            first.extend_from_slice(&members[..cut]);
            rest.extend_from_slice(&members[cut..]);
        }
        first.shuffle(&mut rng);
        rest.shuffle(&mut rng);
        Ok((self.select(&first), self.select(&rest)))
    }

    /// Standardizes the features of every sample in place with `standardizer` (fitted on the
    /// training part); the same as [`Standardizer::apply`]`(self)`.
    pub fn standardize(&mut self, standardizer: &Standardizer<T, IN>) {
        standardizer.apply(self);
    }

    /// The class of each sample: the index of its target's largest entry; with one output (a
    /// binary classifier), 1 where the target is above ½, else 0.
    ///
    /// The same rule reads a network's predictions as classes
    /// ([`metrics::predict_class`](crate::metrics::predict_class)).
    pub fn labels(&self) -> Vec<usize> {
        self.targets.column_iter().map(|t| class_of(&t)).collect()
    }
}

/// The class a target or prediction column stands for: with one output, 1 if it is above ½
/// (a probability or a 0/1 target), else 0; with more, the index of the largest entry (the
/// first on a tie).
pub(crate) fn class_of<T: Real, R: Dim, S: RawStorage<T, R>>(
    column: &Matrix<T, R, U1, S>,
) -> usize {
    if column.nrows() == 1 {
        usize::from(column[0] > T::constant(0.5))
    } else {
        column.argmax().0
    }
}

/// Rows as the columns of a `Batch<T, N>`, each checked.
fn columns<T: Real, const N: usize, R: AsRef<[T]>>(
    rows: &[R],
    target: bool,
) -> Result<Batch<T, N>, DataError> {
    let mut batch = Batch::<T, N>::zeros(rows.len());
    for (row, values) in rows.iter().enumerate() {
        let values = values.as_ref();
        if values.len() != N {
            let (expected, found) = (N, values.len());
            return Err(if target {
                DataError::TargetWidth {
                    row,
                    expected,
                    found,
                }
            } else {
                DataError::Width {
                    row,
                    expected,
                    found,
                }
            });
        }
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NotFinite {
                row,
                column,
                target,
            });
        }
        batch.column_mut(row).copy_from_slice(values);
    }
    Ok(batch)
}

/// What holds the features a [`Standardizer`] fits and applies to: a [`Dataset`] (its
/// `inputs`) or a [`Batch`] of features itself.
#[diagnostic::on_unimplemented(
    message = "a `Standardizer` fits and applies to a `Dataset` or a `Batch` of features, not `{Self}`",
    label = "not a `Dataset` or a `Batch`",
    note = "pass `&dataset` or `&dataset.inputs`; its input width must be the standardizer's `N`"
)]
pub trait Features<T: Real, const N: usize> {
    /// The features, one sample per column.
    fn features(&self) -> &Batch<T, N>;
    /// The features, one sample per column, to change in place.
    fn features_mut(&mut self) -> &mut Batch<T, N>;
}

impl<T: Real, const N: usize> Features<T, N> for Batch<T, N> {
    fn features(&self) -> &Batch<T, N> {
        self
    }
    fn features_mut(&mut self) -> &mut Batch<T, N> {
        self
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Features<T, IN> for Dataset<T, IN, OUT> {
    fn features(&self) -> &Batch<T, IN> {
        &self.inputs
    }
    fn features_mut(&mut self) -> &mut Batch<T, IN> {
        &mut self.inputs
    }
}

/// Per-feature standardization `x' = (x − μ) / σ`, fitted on training data and applied to any
/// data. A constant feature (σ = 0) is only centred.
///
/// `μ` and `σ` are the mean and the population standard deviation of each feature over the
/// samples, as scikit-learn's `StandardScaler`. Fit on the training part only, then apply to
/// every part (the validation and test parts must not leak into `μ` and `σ`).
///
/// # Examples
///
/// ```
/// use nn_runtime::data::{Dataset, Standardizer};
/// let rows = [[1.0f32, 10.0], [2.0, 10.0], [3.0, 10.0]];
/// let mut train = Dataset::<f32, 2, 2>::classification(&rows, &[0, 1, 0])?;
/// let standardizer = Standardizer::fit(&train);          // or `fit(&train.inputs)`
/// assert_eq!(standardizer.mean.as_slice(), &[2.0, 10.0]);
/// assert_eq!(standardizer.std[1], 0.0);                   // a constant feature
/// train.standardize(&standardizer);                       // or `standardizer.apply(&mut train)`
/// let scale = (2.0f32 / 3.0).sqrt();
/// assert_eq!(train.inputs.column(0).as_slice(), &[-1.0 / scale, 0.0]);
/// # Ok::<(), nn_runtime::data::DataError>(())
/// ```
///
/// The width is checked by the compiler: a standardizer of 2 features does not apply to a
/// dataset of 3.
///
/// ```compile_fail
/// use nn_runtime::data::{Dataset, Standardizer};
/// let data = Dataset::<f32, 3, 2>::classification(&[[1.0f32, 2.0, 3.0]], &[0]).unwrap();
/// let standardizer: Standardizer<f32, 2> = Standardizer::fit(&data);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T: Real, const N: usize> {
    /// Mean of each feature.
    pub mean: SVector<T, N>,
    /// Standard deviation of each feature (population, as scikit-learn's `StandardScaler`).
    pub std: SVector<T, N>,
}

impl<T: Real, const N: usize> Standardizer<T, N> {
    /// Fits the mean and standard deviation of each feature over the samples of `data`: a
    /// [`Dataset`] or a [`Batch`] of features. With no samples, `μ = σ = 0` (applying it
    /// changes nothing).
    pub fn fit(data: &impl Features<T, N>) -> Self {
        let inputs = data.features();
        let n = T::constant(inputs.ncols().max(1) as f64);
        let mean = inputs.column_sum() / n;
        let mut var = SVector::<T, N>::zeros();
        for column in inputs.column_iter() {
            let d = column - mean;
            var += d.component_mul(&d);
        }
        let std = (var / n).map(|v| v.sqrt());
        Self { mean, std }
    }

    /// Standardizes every sample of `data` (a [`Dataset`] or a [`Batch`]) in place.
    pub fn apply(&self, data: &mut impl Features<T, N>) {
        for mut column in data.features_mut().column_iter_mut() {
            column -= &self.mean;
            column.zip_apply(&self.std, |x, s| {
                if s > T::zero() {
                    *x /= s
                }
            });
        }
    }

    /// Folds the standardization into the first dense layer, so the network takes raw inputs:
    /// `W' = W diag(1/σ)`, `b' = b − W' μ`. Then `W' x + b' = W ((x − μ)/σ) + b` exactly (up to
    /// rounding); a constant feature (σ = 0) is only centred, as in [`Standardizer::apply`].
    pub fn fold_into<const OUT: usize>(&self, layer: &mut crate::Dense<T, N, OUT>) {
        for (mut column, s) in layer.weight.column_iter_mut().zip(self.std.iter()) {
            if *s > T::zero() {
                column /= *s;
            }
        }
        layer.bias -= layer.weight * self.mean;
    }

    /// Standardizes one sample.
    pub fn apply_one(&self, x: &SVector<T, N>) -> SVector<T, N> {
        (x - self.mean).zip_map(&self.std, |x, s| if s > T::zero() { x / s } else { x })
    }
}

#[cfg(test)]
mod tests;
