//! One layer's computation as one function, generic over the layer's shapes and activation:
//! what `network!` generates a call to for each dense layer, forward and backward, per sample
//! and per batch.
//!
//! A generated method then grows by a call per layer, not by the layer's code: layers of one
//! shape and activation share one compiled copy. That keeps the release build of a deep
//! network linear in its depth (LLVM's time on one long straight-line function is not; see
//! BENCHMARKS.md, "Compile time"). Small layers keep their code inlined where they are used:
//! the call is outlined from [`OUTLINE_MIN`] weights up, the rule the per-sample kernels of
//! [`linalg`](crate::linalg) follow.
//!
//! Every function computes exactly what the generated code wrote out before, in the same
//! order: `z = W x + b`, `h = σ(z) (+ r)`; backward `dz = σ'(z) ⊙ dh`, `∂L/∂W += dz xᵀ`,
//! `∂L/∂b += dz`, `∂L/∂x = Wᵀ dz` (or a fused SGD step in place of the gradient).
//!
//! ```
//! use nn_runtime::Dense;
//! use nn_runtime::blocks::{act, dense_forward};
//! use nn_runtime::nalgebra::{SMatrix, SVector};
//!
//! let layer = Dense {
//!     weight: SMatrix::<f64, 2, 3>::new(1.0, 0.0, -1.0, 0.5, 0.5, 0.5),
//!     bias: SVector::<f64, 2>::new(0.0, -2.0),
//! };
//! let (z, h) = dense_forward(&layer, &SVector::<f64, 3>::new(1.0, 2.0, 3.0), act::Relu);
//! assert_eq!(z, SVector::<f64, 2>::new(-2.0, 1.0));
//! assert_eq!(h, SVector::<f64, 2>::new(0.0, 1.0));
//! ```

pub mod act;
#[cfg(feature = "alloc")]
mod batch;
#[cfg(all(test, feature = "std"))]
mod tests;

use core::mem::MaybeUninit;

use nalgebra::allocator::Allocator;
use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, SMatrix, SVector};

pub use act::Activation;
#[cfg(feature = "alloc")]
pub use batch::{
    dense_backward_batch, dense_forward_batch, dense_grad_backward_batch, dense_grad_batch,
    dense_residual_forward_batch,
};

use crate::Real;
use crate::layer::{Dense, Linear, add_column_sums};
use crate::linalg::{
    Fused, add_outer, affine_fused, affine_output, descend, descend_outer, matvec, tr_matvec,
    tr_matvec_descend,
};

/// From this many weights (`IN · OUT`) a layer function is a call to one copy per scalar,
/// layer type and activation; below it the function is inlined where it is called, as the
/// per-sample kernels are (a call costs more than such a layer saves in code).
pub const OUTLINE_MIN: usize = 256;

/// `pub fn $name[generics](args) -> ret { body }`: an `#[inline]` function that runs `body`
/// in place when `$weights < OUTLINE_MIN` and otherwise calls one never-inlined copy of it.
/// The condition is a constant of the instance (`if const`), so each call site compiles to
/// either the body or a call.
macro_rules! outlined {
    ($(
        $(#[$doc:meta])*
        pub fn $name:ident[$($generics:tt)*]($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        where weights = $weights:expr;
        $body:block
    )*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name<$($generics)*>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<$($generics)*>($($arg: $ty),*) $(-> $ret)? $body

            #[inline(never)]
            fn outlined<$($generics)*>($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }

            if const { $weights >= OUTLINE_MIN } {
                outlined($($arg),*)
            } else {
                body($($arg),*)
            }
        }
    )*};
}
#[cfg(feature = "alloc")]
use outlined;

/// The affine map of a dense layer, `z = W x + b`: [`Dense`], or [`Linear`] without the bias
/// (whose bias methods do nothing).
pub trait Affine<T: Real, const IN: usize, const OUT: usize> {
    /// `W`, `[OUT, IN]`.
    fn weight(&self) -> &SMatrix<T, OUT, IN>;

    /// `W`, to update or to accumulate a gradient into.
    fn weight_mut(&mut self) -> &mut SMatrix<T, OUT, IN>;

    /// `b`, `[OUT]`; `None` for a map without bias.
    fn bias(&self) -> Option<&SVector<T, OUT>>;

    /// `z += b` for each column of `z`.
    fn add_bias<C: Dim>(&self, z: &mut OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>;

    /// `∂L/∂b += Σ dz` over the columns of `dz`, with `self` the gradient.
    fn add_bias_grad<C: Dim>(&mut self, dz: &OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>;

    /// `b −= η dz`: a plain SGD step on the bias from one sample.
    fn descend_bias(&mut self, dz: &SVector<T, OUT>, lr: T);
}

impl<T: Real, const IN: usize, const OUT: usize> Affine<T, IN, OUT> for Dense<T, IN, OUT> {
    #[inline]
    fn weight(&self) -> &SMatrix<T, OUT, IN> {
        &self.weight
    }

    #[inline]
    fn weight_mut(&mut self) -> &mut SMatrix<T, OUT, IN> {
        &mut self.weight
    }

    #[inline]
    fn bias(&self) -> Option<&SVector<T, OUT>> {
        Some(&self.bias)
    }

    #[inline]
    fn add_bias<C: Dim>(&self, z: &mut OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>,
    {
        for mut column in z.column_iter_mut() {
            column += &self.bias;
        }
    }

    #[inline]
    fn add_bias_grad<C: Dim>(&mut self, dz: &OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>,
    {
        add_column_sums(&mut self.bias, dz);
    }

    #[inline]
    fn descend_bias(&mut self, dz: &SVector<T, OUT>, lr: T) {
        descend(&mut self.bias, dz, lr);
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Affine<T, IN, OUT> for Linear<T, IN, OUT> {
    #[inline]
    fn weight(&self) -> &SMatrix<T, OUT, IN> {
        &self.weight
    }

    #[inline]
    fn weight_mut(&mut self) -> &mut SMatrix<T, OUT, IN> {
        &mut self.weight
    }

    #[inline]
    fn bias(&self) -> Option<&SVector<T, OUT>> {
        None
    }

    #[inline]
    fn add_bias<C: Dim>(&self, _z: &mut OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>,
    {
    }

    #[inline]
    fn add_bias_grad<C: Dim>(&mut self, _dz: &OMatrix<T, Const<OUT>, C>)
    where
        DefaultAllocator: Allocator<Const<OUT>, C>,
    {
    }

    #[inline]
    fn descend_bias(&mut self, _dz: &SVector<T, OUT>, _lr: T) {}
}

/// `z = W x + b` for one sample.
#[inline(always)]
fn affine<T: Real, L: Affine<T, IN, OUT>, const IN: usize, const OUT: usize>(
    layer: &L,
    x: &SVector<T, IN>,
) -> SVector<T, OUT> {
    let mut z = matvec(layer.weight(), x);
    layer.add_bias(&mut z);
    z
}

/// `z = W x + b` and `h = σ(z)` for one sample: in one pass where there is a kernel for it
/// ([`affine_fused`]: the activation applied as `z` is stored, if it is one the kernel has,
/// else `σ` over `z` after it), else the product, the bias and the activation in turn.
#[inline(always)]
fn affine_activation<T, L, A, const IN: usize, const OUT: usize>(
    layer: &L,
    x: &SVector<T, IN>,
    activation: A,
) -> (SVector<T, OUT>, SVector<T, OUT>)
where
    T: Real,
    L: Affine<T, IN, OUT>,
    A: Activation<T>,
{
    let fused = A::FUSED.unwrap_or(Fused::Identity);
    let mut out = MaybeUninit::uninit();
    if affine_fused(layer.weight(), layer.bias(), x, fused, &mut out) {
        // SAFETY: the kernel ran: it wrote both vectors.
        let out = unsafe { out.assume_init() };
        if A::FUSED.is_some() {
            return out;
        }
        let h = activation.forward(&out.0);
        return (out.0, h);
    }
    let z = affine(layer, x);
    let h = activation.forward(&z);
    (z, h)
}

/// `h = σ(W x + b)` for one sample, without keeping `z`: in one pass where there is a kernel
/// for it ([`affine_output`]), else as [`affine_activation`] does. Equal to the `h` of
/// [`affine_activation`] bit for bit.
#[inline(always)]
fn affine_output_of<T, L, A, const IN: usize, const OUT: usize>(
    layer: &L,
    x: &SVector<T, IN>,
    activation: A,
) -> SVector<T, OUT>
where
    T: Real,
    L: Affine<T, IN, OUT>,
    A: Activation<T>,
{
    let fused = A::FUSED.unwrap_or(Fused::Identity);
    let mut out = MaybeUninit::uninit();
    if affine_output(layer.weight(), layer.bias(), x, fused, &mut out) {
        // SAFETY: the kernel ran: it wrote the vector.
        let out = unsafe { out.assume_init() };
        return match A::FUSED {
            Some(_) => out,
            None => activation.forward(&out),
        };
    }
    activation.forward(&affine(layer, x))
}

outlined! {
    /// A dense layer's forward pass for one sample: `z = W x + b`, `h = σ(z)`; returns
    /// `(z, h)`.
    pub fn dense_forward[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](layer: &L, x: &SVector<T, IN>, activation: A) -> (SVector<T, OUT>, SVector<T, OUT>)
    where weights = IN * OUT;
    {
        affine_activation(layer, x, activation)
    }

    /// A dense layer with a residual, for one sample: `z = W x + b`, `h = σ(z) + r`; returns
    /// `(z, h)`.
    pub fn dense_residual_forward[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &L,
        x: &SVector<T, IN>,
        activation: A,
        residual: &SVector<T, OUT>,
    ) -> (SVector<T, OUT>, SVector<T, OUT>)
    where weights = IN * OUT;
    {
        let (z, h) = affine_activation(layer, x, activation);
        (z, h + residual)
    }

    /// A dense layer's output for one sample, `h = σ(W x + b)`, keeping no `z`: the forward
    /// pass of inference (`forward`), which nothing differentiates afterwards.
    pub fn dense_output[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](layer: &L, x: &SVector<T, IN>, activation: A) -> SVector<T, OUT>
    where weights = IN * OUT;
    {
        affine_output_of(layer, x, activation)
    }

    /// [`dense_output`] with a residual: `h = σ(W x + b) + r`.
    pub fn dense_residual_output[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &L,
        x: &SVector<T, IN>,
        activation: A,
        residual: &SVector<T, OUT>,
    ) -> SVector<T, OUT>
    where weights = IN * OUT;
    {
        affine_output_of(layer, x, activation) + residual
    }

    /// A dense layer's backward pass for one sample into the gradient `grad` (a value of the
    /// layer's type), from `dh = ∂L/∂h`: `dz = σ'(z) ⊙ dh`, `∂L/∂W += dz xᵀ`, `∂L/∂b += dz`.
    /// For a layer whose input needs no gradient (the network's input).
    pub fn dense_grad[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        grad: &mut L,
        activation: A,
        z: &SVector<T, OUT>,
        dh: &SVector<T, OUT>,
        x: &SVector<T, IN>,
    )
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        add_outer(grad.weight_mut(), &dz, x);
        grad.add_bias_grad(&dz);
    }

    /// [`dense_grad`], then returns the gradient at the layer's input, `∂L/∂x = Wᵀ dz`.
    pub fn dense_grad_backward[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &L,
        grad: &mut L,
        activation: A,
        z: &SVector<T, OUT>,
        dh: &SVector<T, OUT>,
        x: &SVector<T, IN>,
    ) -> SVector<T, IN>
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        add_outer(grad.weight_mut(), &dz, x);
        grad.add_bias_grad(&dz);
        tr_matvec(layer.weight(), &dz)
    }

    /// The gradient at a dense layer's input alone, for one sample: `∂L/∂x = Wᵀ (σ'(z) ⊙ dh)`.
    pub fn dense_backward[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](layer: &L, activation: A, z: &SVector<T, OUT>, dh: &SVector<T, OUT>) -> SVector<T, IN>
    where weights = IN * OUT;
    {
        tr_matvec(layer.weight(), &activation.backward(z, dh))
    }

    /// A plain SGD step on a dense layer from one sample, without storing its gradient:
    /// `dz = σ'(z) ⊙ dh`, `b −= η dz`, `W −= η dz xᵀ`. For a layer whose input needs no
    /// gradient.
    pub fn dense_sgd[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &mut L,
        activation: A,
        z: &SVector<T, OUT>,
        dh: &SVector<T, OUT>,
        x: &SVector<T, IN>,
        lr: T,
    )
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        layer.descend_bias(&dz, lr);
        descend_outer(layer.weight_mut(), &dz, x, lr);
    }

    /// [`dense_sgd`], returning `∂L/∂x = Wᵀ dz` with the weights from before the step, in the
    /// same pass over `W` that updates it.
    pub fn dense_sgd_backward[
        T: Real,
        L: Affine<T, IN, OUT>,
        A: Activation<T>,
        const IN: usize,
        const OUT: usize,
    ](
        layer: &mut L,
        activation: A,
        z: &SVector<T, OUT>,
        dh: &SVector<T, OUT>,
        x: &SVector<T, IN>,
        lr: T,
    ) -> SVector<T, IN>
    where weights = IN * OUT;
    {
        let dz = activation.backward(z, dh);
        layer.descend_bias(&dz, lr);
        tr_matvec_descend(layer.weight_mut(), &dz, x, lr)
    }
}
