//! A dataset of sequences of any lengths, and training on it through the loop of
//! [`train`](crate::train) ([`fit_data`](crate::train::fit_data)).
//!
//! Nothing is padded: each sequence runs at its own length, forward and through time backward,
//! and a minibatch's gradient is the mean of its sequences' gradients. So results cannot
//! depend on padding, and sequences of 7 and of 29 steps train side by side.

use alloc::vec::Vec;
use core::borrow::Borrow;

use nalgebra::SVector;

use crate::Real;
use crate::linalg::Batch;
use crate::train::{Metrics, TrainingData, correct_count, loss_of};

use super::SequenceNetwork;

/// Sequences (`IN` features per step, any number of steps ≥ 1) with one target each: a vector
/// `Y = SVector<T, OUT>` (sequence to one, the default) or one vector per step
/// `Y = Vec<SVector<T, OUT>>` (sequence to sequence).
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDataset<T: Real, const IN: usize, const OUT: usize, Y = SVector<T, OUT>> {
    /// The sequences, each a `Vec` of steps in time order.
    pub sequences: Vec<Vec<SVector<T, IN>>>,
    /// One target per sequence.
    pub targets: Vec<Y>,
}

/// Why a [`SequenceDataset`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SequenceDataError {
    /// Not one target per sequence.
    #[error("{sequences} sequences but {targets} targets; give one target per sequence")]
    Count {
        /// Sequences given.
        sequences: usize,
        /// Targets given.
        targets: usize,
    },
    /// A sequence without steps.
    #[error("sequence {index} has no steps; every sequence needs at least one")]
    Empty {
        /// Its index.
        index: usize,
    },
    /// A NaN or an infinity in a sequence or its target.
    #[error("sequence {index} or its target holds a NaN or an infinity")]
    NonFinite {
        /// Its index.
        index: usize,
    },
    /// A class label out of range.
    #[error("sequence {index} has label {label}, but there are {classes} classes (0 to {})", classes - 1)]
    Label {
        /// Its index.
        index: usize,
        /// The label given.
        label: usize,
        /// The number of classes (`OUT`).
        classes: usize,
    },
    /// A sequence-to-sequence target without one vector per step.
    #[error("sequence {index} has {steps} steps but {targets} targets; give one per step")]
    Steps {
        /// Its index.
        index: usize,
        /// Its steps.
        steps: usize,
        /// Its target vectors.
        targets: usize,
    },
}

/// A target as columns: one for a sequence-to-one target, one per step otherwise.
pub trait Columns<T: Real, const OUT: usize> {
    /// The target (or output) as the columns of a batch.
    fn columns(&self) -> Batch<T, OUT>;
    /// How many steps it covers (`None` for one vector, which covers the whole sequence).
    fn steps(&self) -> Option<usize>;
}

impl<T: Real, const OUT: usize> Columns<T, OUT> for SVector<T, OUT> {
    fn columns(&self) -> Batch<T, OUT> {
        Batch::from_columns(&[*self])
    }
    fn steps(&self) -> Option<usize> {
        None
    }
}

impl<T: Real, const OUT: usize> Columns<T, OUT> for [SVector<T, OUT>] {
    fn columns(&self) -> Batch<T, OUT> {
        Batch::from_columns(self)
    }
    fn steps(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T: Real, const OUT: usize> Columns<T, OUT> for Vec<SVector<T, OUT>> {
    fn columns(&self) -> Batch<T, OUT> {
        Batch::from_columns(self)
    }
    fn steps(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T: Real, const IN: usize, const OUT: usize, Y: Columns<T, OUT>>
    SequenceDataset<T, IN, OUT, Y>
{
    /// Sequences with their targets, checked: one target per sequence, at least one step each,
    /// every value finite, and (sequence to sequence) one target vector per step.
    ///
    /// # Errors
    /// A [`SequenceDataError`] naming the first sequence that breaks a rule.
    pub fn new(
        sequences: Vec<Vec<SVector<T, IN>>>,
        targets: Vec<Y>,
    ) -> Result<Self, SequenceDataError> {
        if sequences.len() != targets.len() {
            return Err(SequenceDataError::Count {
                sequences: sequences.len(),
                targets: targets.len(),
            });
        }
        for (index, (sequence, target)) in sequences.iter().zip(&targets).enumerate() {
            if sequence.is_empty() {
                return Err(SequenceDataError::Empty { index });
            }
            if let Some(steps) = target.steps()
                && steps != sequence.len()
            {
                return Err(SequenceDataError::Steps {
                    index,
                    steps: sequence.len(),
                    targets: steps,
                });
            }
            let finite = sequence.iter().all(|x| x.iter().all(|v| v.is_finite()))
                && target.columns().iter().all(|v| v.is_finite());
            if !finite {
                return Err(SequenceDataError::NonFinite { index });
            }
        }
        Ok(Self { sequences, targets })
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }
}

impl<T: Real, const IN: usize, const OUT: usize> SequenceDataset<T, IN, OUT> {
    /// Sequences labelled with classes `0..OUT`, targets one-hot.
    ///
    /// # Errors
    /// As [`SequenceDataset::new`], and [`SequenceDataError::Label`] for a label `≥ OUT`.
    pub fn classification(
        sequences: Vec<Vec<SVector<T, IN>>>,
        labels: &[usize],
    ) -> Result<Self, SequenceDataError> {
        let mut targets = Vec::with_capacity(labels.len());
        for (index, &label) in labels.iter().enumerate() {
            if label >= OUT {
                return Err(SequenceDataError::Label {
                    index,
                    label,
                    classes: OUT,
                });
            }
            targets.push(crate::one_hot::<T, OUT>(label));
        }
        Self::new(sequences, targets)
    }
}

/// A minibatch runs each sequence at its own length and averages the gradients.
impl<T, N, Y, const IN: usize, const OUT: usize> TrainingData<T, N>
    for SequenceDataset<T, IN, OUT, Y>
where
    T: Real,
    N: SequenceNetwork<T, IN, OUT>,
    N::Output: Columns<T, OUT>,
    N::Target: Columns<T, OUT>,
    Y: Borrow<N::Target> + Sync,
{
    fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Sequence networks have no dropout or batch norm (`network!` refuses them on a
    /// sequence), so training mode is plain backpropagation through time.
    fn backward(
        &self,
        net: &mut N,
        indices: &[usize],
        grad: &mut N,
        _training: &mut crate::mode::Training,
    ) -> T {
        let mut loss = T::zero();
        for &i in indices {
            loss += net.backward(&self.sequences[i], self.targets[i].borrow(), grad);
        }
        let scale = T::one() / T::constant(indices.len() as f64);
        for index in 0..N::TENSORS.len() {
            grad.tensor_mut(index).iter_mut().for_each(|g| *g *= scale);
        }
        loss * scale
    }

    fn evaluate(&self, net: &N) -> Metrics {
        assert!(
            !self.sequences.is_empty(),
            "cannot evaluate a network on an empty dataset: its loss and accuracy are undefined"
        );
        let (mut loss, mut correct, mut counted) = (0.0, 0, 0);
        for (x, target) in self.sequences.iter().zip(&self.targets) {
            let output = net.forward(x).columns();
            let target = target.borrow().columns();
            loss += loss_of(N::LOSS, &output, &target);
            let (c, k) = correct_count(N::LOSS, &output, &target);
            correct += c;
            counted += k;
        }
        let accuracy = (N::LOSS != crate::LossKind::Mse && counted > 0)
            .then(|| correct as f64 / counted as f64);
        Metrics {
            loss: loss / self.sequences.len() as f64,
            accuracy,
        }
    }
}
