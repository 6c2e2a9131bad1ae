//! Datasets: samples as the columns of a [`Batch`], validated where they enter.
//!
//! Every constructor checks each row (its width, that every feature is finite, that a class
//! label is in range) and reports the first bad row by number, so bad data stops at the door
//! instead of surfacing as a NaN loss many steps later.
//!
//! # Errors
//!
//! Bad rows are a [`DataError`] naming the row (and column); a split fraction outside
//! `[0, 1]` is a [`ConfigError`] from [`Dataset::split`]. Nothing here panics on user input.
//! (The crate's error policy is in [`train`](crate::train#errors).)

use alloc::vec::Vec;

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

    /// The class of each sample: the index of its target's largest entry; with one output (a
    /// binary classifier), 1 where the target is above ½, else 0.
    pub fn labels(&self) -> Vec<usize> {
        let half = T::constant(0.5);
        self.targets
            .column_iter()
            .map(|t| match OUT {
                1 => usize::from(t[0] > half),
                _ => t.argmax().0,
            })
            .collect()
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

/// Per-feature standardization `x' = (x − μ) / σ`, fitted on training data and applied to any
/// data. A constant feature (σ = 0) is only centred.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T: Real, const N: usize> {
    /// Mean of each feature.
    pub mean: nalgebra::SVector<T, N>,
    /// Standard deviation of each feature (population, as scikit-learn's `StandardScaler`).
    pub std: nalgebra::SVector<T, N>,
}

impl<T: Real, const N: usize> Standardizer<T, N> {
    /// Fits the mean and standard deviation of each feature (row) of `inputs`.
    pub fn fit(inputs: &Batch<T, N>) -> Self {
        let n = T::constant(inputs.ncols().max(1) as f64);
        let mean = inputs.column_sum() / n;
        let mut var = nalgebra::SVector::<T, N>::zeros();
        for column in inputs.column_iter() {
            let d = column - mean;
            var += d.component_mul(&d);
        }
        let std = (var / n).map(|v| v.sqrt());
        Self { mean, std }
    }

    /// Standardizes every column of `inputs` in place.
    pub fn apply(&self, inputs: &mut Batch<T, N>) {
        for mut column in inputs.column_iter_mut() {
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
    pub fn apply_one(&self, x: &nalgebra::SVector<T, N>) -> nalgebra::SVector<T, N> {
        (x - self.mean).zip_map(&self.std, |x, s| if s > T::zero() { x / s } else { x })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_and_named() {
        let ok = [[1.0f32, 2.0], [3.0, 4.0]];
        assert!(Dataset::<f32, 2, 3>::classification(&ok, &[0, 2]).is_ok());
        let wide = [vec![1.0f32, 2.0], vec![1.0, 2.0, 3.0]];
        let err = Dataset::<f32, 2, 3>::classification(&wide, &[0, 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1 has 3 features, but the network takes 2"
        );
        let nan = [[1.0f32, 2.0], [f32::NAN, 4.0]];
        let err = Dataset::<f32, 2, 3>::classification(&nan, &[0, 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1 has a NaN or infinite feature in column 0"
        );
        let err = Dataset::<f32, 2, 3>::classification(&ok, &[0, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1 has label 3, but the network has 3 classes (labels 0..3)"
        );
        let err = Dataset::<f32, 2, 1>::regression(&ok, &[[1.0f32], [f32::INFINITY]]).unwrap_err();
        assert_eq!(
            err,
            DataError::NotFinite {
                row: 1,
                column: 0,
                target: true
            }
        );
        let err = Dataset::<f32, 2, 3>::classification(&ok, &[0]).unwrap_err();
        assert_eq!(err.to_string(), "2 rows of features but 1 rows of targets");
    }

    #[test]
    fn one_output_takes_binary_labels() {
        let rows = [[1.0f32], [2.0], [3.0]];
        let data = Dataset::<f32, 1, 1>::classification(&rows, &[0, 1, 1]).unwrap();
        assert_eq!(data.targets.as_slice(), &[0.0, 1.0, 1.0]);
        assert_eq!(data.labels(), [0, 1, 1]);
        let err = Dataset::<f32, 1, 1>::classification(&rows, &[0, 2, 1]).unwrap_err();
        assert_eq!(err, DataError::NotBinary { row: 1, label: 2 });
        assert_eq!(
            err.to_string(),
            "row 1 has label 2, but a network with 1 output takes the binary labels 0 and 1; \
             for more classes give the network one output per class and `softmax_cross_entropy`"
        );
        // Soft targets read back as labels by thresholding at ½.
        let soft = Dataset::<f32, 1, 1>::regression(&rows, &[[0.2f32], [0.7], [0.5]]).unwrap();
        assert_eq!(soft.labels(), [0, 1, 0]);
    }

    #[test]
    fn split_is_seeded_and_complete() {
        let rows: Vec<[f64; 1]> = (0..10).map(|i| [i as f64]).collect();
        let labels: Vec<usize> = (0..10).map(|i| i % 2).collect();
        let data = Dataset::<f64, 1, 2>::classification(&rows, &labels).unwrap();
        let (a, b) = data.split(0.7, 3).unwrap();
        assert_eq!((a.len(), b.len()), (7, 3));
        assert_eq!(data.split(0.7, 3).unwrap().0, a);
        let mut all: Vec<f64> = a.inputs.iter().chain(b.inputs.iter()).copied().collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(all, (0..10).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn standardizer_gives_zero_mean_unit_variance() {
        let mut x = Batch::<f64, 2>::from_column_slice(&[1.0, 5.0, 2.0, 5.0, 3.0, 5.0]);
        let s = Standardizer::fit(&x);
        s.apply(&mut x);
        assert!((x.row(0).sum()).abs() < 1e-12);
        assert!((x.row(0).map(|v| v * v).sum() / 3.0 - 1.0).abs() < 1e-12);
        assert_eq!(x.row(1).sum(), 0.0, "a constant feature is only centred");
    }

    #[test]
    fn folding_into_a_layer_equals_standardizing_first() {
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, 5.0, 2.0, 5.0, 4.0, 5.0]);
        let s = Standardizer::fit(&x);
        let mut layer = crate::Dense::<f64, 2, 3> {
            weight: nalgebra::SMatrix::<f64, 3, 2>::new(0.5, -1.0, 2.0, 0.25, -0.5, 1.5),
            bias: nalgebra::SVector::<f64, 3>::new(0.1, 0.2, 0.3),
        };
        let sample = nalgebra::SVector::<f64, 2>::new(3.0, 5.0);
        let expected = layer.weight * s.apply_one(&sample) + layer.bias;
        s.fold_into(&mut layer);
        assert!((layer.weight * sample + layer.bias - expected).amax() < 1e-12);
    }
}
