//! [`Classifier`]: the class-index forms of a `softmax_cross_entropy` network, for generic code.

use nalgebra::SVector;

use crate::Real;
#[cfg(feature = "alloc")]
use crate::linalg::{BatchOf, BatchStorage};
use crate::network::Network;

/// A network trained with `softmax_cross_entropy` over `CLASSES` classes, whose targets can be
/// given as class indices: the `*_label` and `*_batch_labels` methods `network!` generates,
/// reachable from generic code. Each equals its [`Network`] method with the target
/// [`one_hot`](crate::one_hot)`(label)` (one-hot columns for a batch).
///
/// `network!` implements it for every network whose loss is `softmax_cross_entropy` (and
/// nothing else does).
///
/// # Panics
/// Every method panics if a label is not below `CLASSES`, naming it.
///
/// # Examples
///
/// ```
/// use nn_runtime::nalgebra::SVector;
/// use nn_runtime::{Classifier, Parameters};
///
/// /// The mean loss over `data`, for any classifier of two inputs and three classes.
/// fn mean_loss<N: Classifier<f32, 2, 3>>(net: &N, data: &[([f32; 2], usize)]) -> f32 {
///     let losses = data.iter().map(|(x, label)| net.loss_label(&SVector::from(*x), *label));
///     losses.sum::<f32>() / data.len() as f32
/// }
///
/// /// One SGD step per sample.
/// fn epoch<N: Classifier<f32, 2, 3>>(net: &mut N, data: &[([f32; 2], usize)]) {
///     for (x, label) in data {
///         net.sgd_step_label(&SVector::from(*x), *label, 0.1);
///     }
/// }
///
/// nn_runtime::network! {
///     struct Net { input: 2, h: dense(8, relu), out: dense(3), loss: softmax_cross_entropy }
/// }
/// let mut net = Net::<f32>::zeros();
/// let data = [([1.0, 0.0], 0), ([0.5, 0.5], 0), ([0.0, 1.0], 1)];
/// let before = mean_loss(&net, &data);
/// assert!((before - 3f32.ln()).abs() < 1e-6); // zero weights: a uniform prediction
/// epoch(&mut net, &data);
/// assert!(mean_loss(&net, &data) < before);
/// ```
pub trait Classifier<T: Real, const IN: usize, const CLASSES: usize>:
    Network<T, IN, CLASSES>
{
    /// [`Network::loss`] with the target given as a class index.
    fn loss_label(&self, x: &SVector<T, IN>, label: usize) -> T;

    /// [`Network::backward`] with the target given as a class index.
    fn backward_label(&self, x: &SVector<T, IN>, label: usize, grad: &mut Self) -> T;

    /// [`Network::sgd_step`] with the target given as a class index.
    fn sgd_step_label(&mut self, x: &SVector<T, IN>, label: usize, lr: T) -> T;

    /// [`Network::loss_batch`] with the targets given as class indices, one per column.
    #[cfg(feature = "alloc")]
    fn loss_batch_labels<S: BatchStorage<T, IN>>(
        &self,
        x: &BatchOf<T, IN, S>,
        labels: &[usize],
    ) -> T;

    /// [`Network::backward_batch`] with the targets given as class indices, one per column.
    #[cfg(feature = "alloc")]
    fn backward_batch_labels<S: BatchStorage<T, IN>>(
        &self,
        x: &BatchOf<T, IN, S>,
        labels: &[usize],
        grad: &mut Self,
    ) -> T;
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::{Batch, Parameters, one_hot, one_hot_batch};

    crate::network! {
        struct Net { input: 3, h: dense(5, tanh), out: dense(4), loss: softmax_cross_entropy }
    }

    fn net() -> Net<f64> {
        let mut net = Net::<f64>::zeros();
        for index in 0..Net::<f64>::TENSORS.len() {
            for (k, value) in net.tensor_mut(index).iter_mut().enumerate() {
                *value = ((index * 7 + k * 3) % 11) as f64 * 0.1 - 0.5;
            }
        }
        net
    }

    /// Through the trait (a generic function), each form equals the `Network` method with
    /// one-hot targets, bit for bit.
    fn check<N: Classifier<f64, 3, 4>>(net: &N) {
        let x = SVector::from([0.3, -0.7, 1.1]);
        assert_eq!(net.loss_label(&x, 2), net.loss(&x, &one_hot(2)));
        let (mut by_label, mut by_target) = (N::zeros(), N::zeros());
        let loss = net.backward_label(&x, 3, &mut by_label);
        assert_eq!(loss, net.backward(&x, &one_hot(3), &mut by_target));
        let xs = Batch::<f64, 3>::from_fn(5, |i, j| (i + 2 * j) as f64 * 0.2 - 0.6);
        let labels = [0, 3, 1, 1, 2];
        let targets = one_hot_batch::<f64, 4>(&labels);
        assert_eq!(
            net.loss_batch_labels(&xs, &labels),
            net.loss_batch(&xs, &targets)
        );
        let loss = net.backward_batch_labels(&xs, &labels, &mut by_label);
        assert_eq!(loss, net.backward_batch(&xs, &targets, &mut by_target));
        for index in 0..N::TENSORS.len() {
            assert_eq!(by_label.tensor(index), by_target.tensor(index));
        }
    }

    #[test]
    fn the_label_forms_equal_one_hot_targets_through_the_trait() {
        check(&net());
        let (mut stepped, mut by_target) = (net(), net());
        let x = SVector::from([-0.2, 0.4, 0.9]);
        let loss = Classifier::sgd_step_label(&mut stepped, &x, 1, 0.05);
        assert_eq!(loss, by_target.sgd_step(&x, &one_hot(1), 0.05));
        assert_eq!(stepped.h.weight, by_target.h.weight);
        assert_ne!(stepped.h.weight, net().h.weight);
    }
}
