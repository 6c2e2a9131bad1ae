//! What the training loop needs of its data: how many samples, the gradient of a minibatch's
//! mean loss, and the metrics of the whole set. [`Dataset`] (vectors, for a [`Network`]) and
//! [`SequenceDataset`](crate::recurrent::SequenceDataset) (sequences of any lengths, for a
//! [`SequenceNetwork`](crate::SequenceNetwork)) implement it, so both train through the same
//! loop.

use crate::Real;
use crate::data::Dataset;
use crate::linalg::Batch;
use crate::mode::Training;
use crate::network::{Network, Parameters};

use super::{Metrics, evaluate};

/// Samples a network of type `N` trains on.
pub trait TrainingData<T: Real, N: Parameters<T>>: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the training-mode gradient of the mean loss over the samples at `indices` into
    /// `grad` (cleared by the caller) and returns that mean loss. Dropout masks come from
    /// `training`; batch norms move their running statistics in `net`.
    fn backward(&self, net: &mut N, indices: &[usize], grad: &mut N, training: &mut Training) -> T;

    /// Loss and accuracy of `net` on every sample.
    ///
    /// # Panics
    /// If there are no samples.
    fn evaluate(&self, net: &N) -> Metrics;
}

/// A minibatch is the columns at `indices`, one `train_batch` (GEMMs).
impl<T: Real, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize> TrainingData<T, N>
    for Dataset<T, IN, OUT>
{
    fn len(&self) -> usize {
        Dataset::len(self)
    }

    fn backward(&self, net: &mut N, indices: &[usize], grad: &mut N, training: &mut Training) -> T {
        let x: Batch<T, IN> = self.inputs.select_columns(indices);
        let y: Batch<T, OUT> = self.targets.select_columns(indices);
        net.train_batch(&x, &y, grad, training)
    }

    fn evaluate(&self, net: &N) -> Metrics {
        evaluate(net, self)
    }
}
