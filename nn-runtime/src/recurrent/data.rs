//! A dataset of sequences of any lengths, and training on it through the loop of
//! [`train`](crate::train) ([`fit_data`](crate::train::fit_data)).
//!
//! Nothing is padded: each sequence runs at its own length, forward and through time backward,
//! and a minibatch's gradient is the mean of its sequences' gradients. So results cannot
//! depend on padding, and sequences of 7 and of 29 steps train side by side. On request
//! ([`SequenceDataset::batch_path`]) the sequences of a minibatch that share a length run
//! together through the network's batch path (GEMMs over them), and evaluation batches the
//! whole set by length the same way.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
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
///
/// As [`TrainingData`] (for [`fit_data`](crate::train::fit_data)), a minibatch's loss and
/// gradient are the means of its sequences' own, each sequence run at its own length, nothing
/// padded. By default every sequence runs alone ([`SequenceNetwork::backward`], `forward`);
/// [`SequenceDataset::batch_path`] runs equal-length sequences together.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDataset<T: Real, const IN: usize, const OUT: usize, Y = SVector<T, OUT>> {
    /// The sequences, each a `Vec` of steps in time order.
    pub sequences: Vec<Vec<SVector<T, IN>>>,
    /// One target per sequence.
    pub targets: Vec<Y>,
    /// Groups of at least this many equal-length sequences take the batch path (`usize::MAX`:
    /// none do).
    batch_from: usize,
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
        Ok(Self {
            sequences,
            targets,
            batch_from: usize::MAX,
        })
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

/// Targets of sequences of one length as the target of one batch: a `Batch<T, OUT>` with a
/// column per sequence (sequence to one), or one such batch per step (sequence to sequence),
/// the layout of [`SequenceNetwork::backward_batch`]'s target.
pub trait StackTargets<T: Real, const OUT: usize> {
    /// `Batch<T, OUT>`, or `Vec<Batch<T, OUT>>` with one batch per step.
    type Stacked;

    /// The targets as one batch target, the target of sequence `j` in column `j`.
    ///
    /// # Panics
    /// If `targets` is empty, or (sequence to sequence) the targets cover different numbers of
    /// steps.
    fn stack(targets: &[&Self]) -> Self::Stacked;
}

impl<T: Real, const OUT: usize> StackTargets<T, OUT> for SVector<T, OUT> {
    type Stacked = Batch<T, OUT>;

    fn stack(targets: &[&Self]) -> Batch<T, OUT> {
        Batch::from_fn(targets.len(), |row, column| targets[column][row])
    }
}

impl<T: Real, const OUT: usize> StackTargets<T, OUT> for [SVector<T, OUT>] {
    type Stacked = Vec<Batch<T, OUT>>;

    fn stack(targets: &[&Self]) -> Vec<Batch<T, OUT>> {
        let steps = targets[0].len();
        assert!(
            targets.iter().all(|target| target.len() == steps),
            "stacked sequence-to-sequence targets must cover the same number of steps"
        );
        (0..steps)
            .map(|t| Batch::from_fn(targets.len(), |row, column| targets[column][t][row]))
            .collect()
    }
}

/// A batch's outputs or targets as one `Batch<T, OUT>` per step: a single batch for a
/// sequence-to-one network, one per step for a sequence-to-sequence one.
pub trait StepBatches<T: Real, const OUT: usize> {
    /// The batches, one per step (one in all for sequence to one).
    fn step_batches(&self) -> &[Batch<T, OUT>];
}

impl<T: Real, const OUT: usize> StepBatches<T, OUT> for Batch<T, OUT> {
    fn step_batches(&self) -> &[Batch<T, OUT>] {
        core::slice::from_ref(self)
    }
}

impl<T: Real, const OUT: usize> StepBatches<T, OUT> for [Batch<T, OUT>] {
    fn step_batches(&self) -> &[Batch<T, OUT>] {
        self
    }
}

impl<T: Real, const OUT: usize> StepBatches<T, OUT> for Vec<Batch<T, OUT>> {
    fn step_batches(&self) -> &[Batch<T, OUT>] {
        self
    }
}

/// Sequences at most this many to a batch when evaluating: the batch's intermediates (every
/// step of every layer) stay a few megabytes, and the products are already wide enough for
/// the GEMM kernels.
const EVALUATION_BATCH: usize = 256;

impl<T: Real, const IN: usize, const OUT: usize, Y> SequenceDataset<T, IN, OUT, Y> {
    /// Trains and evaluates through the network's batch path: the sequences of a minibatch
    /// that share a length, when at least `min_sequences` do (2 if less is given), run as one
    /// batch ([`SequenceNetwork::backward_batch`], every product a GEMM over them), and the
    /// others alone; evaluation groups the whole set by length the same way, at most 256
    /// sequences to a batch. Nothing is padded, and each group's mean gradient is weighted by
    /// its share of the minibatch, so a minibatch's loss and gradient are the same means as
    /// without it, up to the order of the sums (a run's trajectory changes in the last bits).
    ///
    /// Whether it is faster depends on the cells' sizes: on the 2-core test machine the
    /// batch path took 2–3× as long as the sequences alone for a GRU of 32 or 48 units
    /// (`examples/motions`, `examples/vowels`) at every group size from 4 to 256, and half
    /// as long for an LSTM of 256 units at 64 sequences of one length (the per-sample path's
    /// static sizes and fused cells win where the products are small).
    pub fn batch_path(mut self, min_sequences: usize) -> Self {
        self.batch_from = min_sequences.max(2);
        self
    }

    /// The sequences at `indices` by length, shortest first, each group in the order of
    /// `indices`; and whether a sequence's group takes the batch path.
    fn by_length(&self, indices: impl IntoIterator<Item = usize>) -> Groups {
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in indices {
            groups.entry(self.sequences[i].len()).or_default().push(i);
        }
        Groups {
            groups,
            batch_from: self.batch_from,
        }
    }

    /// The equal-length sequences at `group` as the input of a batch: `x[t]` holds step `t`
    /// of every sequence, sequence `j` in column `j`.
    fn stack_steps(&self, group: &[usize]) -> Vec<Batch<T, IN>> {
        let steps = self.sequences[group[0]].len();
        (0..steps)
            .map(|t| {
                Batch::from_fn(group.len(), |row, column| {
                    self.sequences[group[column]][t][row]
                })
            })
            .collect()
    }

    /// The targets of the sequences at `group`, as one batch target.
    fn stack_targets<N: SequenceNetwork<T, IN, OUT>>(
        &self,
        group: &[usize],
    ) -> <N::Target as StackTargets<T, OUT>>::Stacked
    where
        N::Target: StackTargets<T, OUT>,
        Y: Borrow<N::Target>,
    {
        let targets: Vec<&N::Target> = group.iter().map(|&i| self.targets[i].borrow()).collect();
        N::Target::stack(&targets)
    }
}

/// Sequence indices grouped by length, and the size from which a group takes the batch path.
struct Groups {
    groups: BTreeMap<usize, Vec<usize>>,
    batch_from: usize,
}

impl Groups {
    /// The groups that take the batch path, shortest sequences first.
    fn batched(&self) -> impl Iterator<Item = &[usize]> {
        self.groups
            .values()
            .filter(|group| group.len() >= self.batch_from)
            .map(Vec::as_slice)
    }

    /// Whether a sequence of `len` steps runs alone.
    fn alone(&self, len: usize) -> bool {
        self.groups
            .get(&len)
            .is_none_or(|group| group.len() < self.batch_from)
    }
}

/// A minibatch's loss and gradient are the means of its sequences' own, each sequence run at
/// its own length: alone ([`SequenceNetwork::backward`], the default) or, with
/// [`SequenceDataset::batch_path`], together with the sequences of its length
/// ([`SequenceNetwork::backward_batch`]), each group's mean gradient weighted by its share of
/// the minibatch. Evaluation runs the whole set the same way.
impl<T, N, Y, const IN: usize, const OUT: usize> TrainingData<T, N>
    for SequenceDataset<T, IN, OUT, Y>
where
    T: Real,
    N: SequenceNetwork<T, IN, OUT>,
    N::Output: Columns<T, OUT>,
    N::Target: Columns<T, OUT> + StackTargets<T, OUT>,
    <N::Target as StackTargets<T, OUT>>::Stacked: Borrow<N::BatchTarget>,
    N::BatchOutput: StepBatches<T, OUT>,
    N::BatchTarget: StepBatches<T, OUT>,
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
        let groups = self.by_length(indices.iter().copied());
        let backward_group = |group: &[usize], grad: &mut N| {
            let x = self.stack_steps(group);
            net.backward_batch(&x, self.stack_targets::<N>(group).borrow(), grad)
        };
        // The whole minibatch one batch: its mean gradient is the minibatch's.
        if let Some(group) = groups.batched().next()
            && group.len() == indices.len()
        {
            return backward_group(group, grad);
        }
        // Else `grad` sums the per-sequence gradients (a group of `n` adds `n` times its mean,
        // computed apart in `group_grad`), and is scaled to the mean at the end.
        let mut loss = T::zero();
        for &i in indices {
            if groups.alone(self.sequences[i].len()) {
                loss += net.backward(&self.sequences[i], self.targets[i].borrow(), grad);
            }
        }
        let mut group_grad: Option<Box<N>> = None;
        for group in groups.batched() {
            let group_grad = group_grad.get_or_insert_with(N::boxed_zeros);
            group_grad.fill(T::zero());
            let n = T::constant(group.len() as f64);
            loss += n * backward_group(group, group_grad);
            for index in 0..N::TENSORS.len() {
                let sum = grad.tensor_mut(index).iter_mut();
                sum.zip(group_grad.tensor(index))
                    .for_each(|(g, &mean)| *g += n * mean);
            }
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
        // `loss` sums the per-sequence losses (each a mean over its steps, for sequence to
        // sequence).
        let (mut loss, mut correct, mut counted) = (0.0, 0, 0);
        let groups = self.by_length(0..self.sequences.len());
        for (x, target) in self.sequences.iter().zip(&self.targets) {
            if groups.alone(x.len()) {
                let output = net.forward(x).columns();
                let target = target.borrow().columns();
                loss += loss_of(N::LOSS, &output, &target);
                let (c, k) = correct_count(N::LOSS, &output, &target);
                correct += c;
                counted += k;
            }
        }
        for chunk in groups
            .batched()
            .flat_map(|group| group.chunks(EVALUATION_BATCH))
        {
            let output = net.forward_batch(&self.stack_steps(chunk));
            let target = self.stack_targets::<N>(chunk);
            let (outputs, targets) = (output.step_batches(), target.borrow().step_batches());
            // Each step's loss is a mean over the chunk; a sequence's is the mean over its
            // steps.
            let weight = chunk.len() as f64 / outputs.len() as f64;
            for (output, target) in outputs.iter().zip(targets) {
                loss += loss_of(N::LOSS, output, target) * weight;
                let (c, k) = correct_count(N::LOSS, output, target);
                correct += c;
                counted += k;
            }
        }
        let accuracy = (N::LOSS != crate::LossKind::Mse && counted > 0)
            .then(|| correct as f64 / counted as f64);
        Metrics {
            loss: loss / self.sequences.len() as f64,
            accuracy,
        }
    }
}
