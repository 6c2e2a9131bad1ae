//! The layer functions for a batch (one sample per column): the products are GEMMs.

use super::{Activation, Affine, OUTLINE_MIN, outlined};
use crate::Real;
use crate::linalg::{Batch, BatchOf, BatchStorage, add_mul_tr, matmul, tr_matmul};

/// `Z = W X + b` for a batch.
#[inline(always)]
fn affine<
    T: Real,
    L: Affine<T, IN, OUT>,
    S: BatchStorage<T, IN>,
    const IN: usize,
    const OUT: usize,
>(
    layer: &L,
    x: &BatchOf<T, IN, S>,
) -> Batch<T, OUT> {
    let mut z = matmul(layer.weight(), x);
    layer.add_bias(&mut z);
    z
}

outlined! {
    /// [`dense_forward`](super::dense_forward) for a batch: `Z = W X + b`, `H = σ(Z)`.
    pub fn dense_forward_batch[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        S: BatchStorage<T, IN>,
        const IN: usize,
        const OUT: usize,
    ](layer: &L, x: &BatchOf<T, IN, S>, activation: A) -> (Batch<T, OUT>, Batch<T, OUT>)
    where weights = IN * OUT;
    {
        let z = affine(layer, x);
        let h = activation.forward(&z);
        (z, h)
    }

    /// [`dense_residual_forward`](super::dense_residual_forward) for a batch: `Z = W X + b`,
    /// `H = σ(Z) + R`.
    pub fn dense_residual_forward_batch[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        S: BatchStorage<T, IN>,
        R: BatchStorage<T, OUT>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &L,
        x: &BatchOf<T, IN, S>,
        activation: A,
        residual: &BatchOf<T, OUT, R>,
    ) -> (Batch<T, OUT>, Batch<T, OUT>)
    where weights = IN * OUT;
    {
        let z = affine(layer, x);
        let h = activation.forward(&z) + residual;
        (z, h)
    }

    /// [`dense_grad`](super::dense_grad) for a batch: `dZ = σ'(Z) ⊙ dH`, `∂L/∂W += dZ Xᵀ`,
    /// `∂L/∂b += Σ_columns dZ`.
    pub fn dense_grad_batch[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        S: BatchStorage<T, IN>,
        const IN: usize,
        const OUT: usize,
    ](
        grad: &mut L,
        activation: A,
        z: &Batch<T, OUT>,
        dh: &Batch<T, OUT>,
        x: &BatchOf<T, IN, S>,
    )
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        add_mul_tr(grad.weight_mut(), &dz, x);
        grad.add_bias_grad(&dz);
    }

    /// [`dense_grad_batch`], then returns the gradient at the layer's input, `Wᵀ dZ`.
    pub fn dense_grad_backward_batch[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        S: BatchStorage<T, IN>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &L,
        grad: &mut L,
        activation: A,
        z: &Batch<T, OUT>,
        dh: &Batch<T, OUT>,
        x: &BatchOf<T, IN, S>,
    ) -> Batch<T, IN>
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        add_mul_tr(grad.weight_mut(), &dz, x);
        grad.add_bias_grad(&dz);
        tr_matmul(layer.weight(), &dz)
    }

    /// [`dense_backward`](super::dense_backward) for a batch: `Wᵀ (σ'(Z) ⊙ dH)`.
    pub fn dense_backward_batch[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](layer: &L, activation: A, z: &Batch<T, OUT>, dh: &Batch<T, OUT>) -> Batch<T, IN>
    where weights = IN * OUT;
    {
        tr_matmul(layer.weight(), &activation.backward(z, dh))
    }
}
