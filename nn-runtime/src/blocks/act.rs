//! Activations as values: one zero-sized type per activation (a value for the leaky ReLU's
//! slope), so that a layer function generic over the activation compiles once per activation
//! and shape, whichever layer calls it.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix};

use crate::Real;
use crate::activation as f;
use crate::linalg::Fused;

/// An activation `h = σ(z)` and its backward pass `dz = σ'(z) ⊙ dh`, on a sample or a batch
/// (one sample per column): the functions of [`activation`](crate::activation), chosen by type.
pub trait Activation<T: Real>: Copy {
    /// The same activation as the per-sample product can apply while it stores `z`
    /// ([`affine_fused`](crate::linalg::affine_fused)), if it is one of those.
    const FUSED: Option<Fused> = None;

    /// `σ(z)`.
    fn forward<R: Dim, C: Dim>(self, z: &OMatrix<T, R, C>) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>;

    /// `dz = σ'(z) ⊙ dh` (the softmax's full Jacobian applied to `dh`, per column).
    fn backward<R: Dim, C: Dim>(
        self,
        z: &OMatrix<T, R, C>,
        dh: &OMatrix<T, R, C>,
    ) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>;
}

macro_rules! activations {
    ($($(#[$doc:meta])* $name:ident => $forward:ident, $backward:ident $(, $fused:ident)?;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl<T: Real> Activation<T> for $name {
            $(const FUSED: Option<Fused> = Some(Fused::$fused);)?

            #[inline]
            fn forward<R: Dim, C: Dim>(self, z: &OMatrix<T, R, C>) -> OMatrix<T, R, C>
            where
                DefaultAllocator: Allocator<R, C>,
            {
                f::$forward(z)
            }

            #[inline]
            fn backward<R: Dim, C: Dim>(
                self,
                z: &OMatrix<T, R, C>,
                dh: &OMatrix<T, R, C>,
            ) -> OMatrix<T, R, C>
            where
                DefaultAllocator: Allocator<R, C>,
            {
                f::$backward(z, dh)
            }
        }
    )*};
}

activations! {
    /// Heaviside step ([`step`](crate::activation::step)); its gradient is zero.
    Step => step, step_backward;
    /// `max(z, 0)` ([`relu`](crate::activation::relu)).
    Relu => relu, relu_backward, Relu;
    /// The logistic function ([`sigmoid`](crate::activation::sigmoid)).
    Sigmoid => sigmoid, sigmoid_backward;
    /// `tanh(z)` ([`tanh`](crate::activation::tanh)).
    Tanh => tanh, tanh_backward;
    /// `ln(1 + e^z)` ([`softplus`](crate::activation::softplus)).
    Softplus => softplus, softplus_backward;
    /// Exact GELU ([`gelu`](crate::activation::gelu)).
    Gelu => gelu, gelu_backward;
    /// GELU's tanh approximation ([`gelu_tanh`](crate::activation::gelu_tanh)).
    GeluTanh => gelu_tanh, gelu_tanh_backward;
    /// `z σ(z)` ([`silu`](crate::activation::silu)).
    Silu => silu, silu_backward;
    /// Softmax over each column ([`softmax`](crate::activation::softmax)).
    Softmax => softmax, softmax_backward;
}

/// `h = z`: a layer without activation (a residual still adds to it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

impl<T: Real> Activation<T> for Identity {
    const FUSED: Option<Fused> = Some(Fused::Identity);

    #[inline]
    fn forward<R: Dim, C: Dim>(self, z: &OMatrix<T, R, C>) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        z.clone()
    }

    #[inline]
    fn backward<R: Dim, C: Dim>(
        self,
        z: &OMatrix<T, R, C>,
        dh: &OMatrix<T, R, C>,
    ) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        f::identity_backward(z, dh)
    }
}

/// `z` where `z > 0`, else `slope · z` ([`leaky_relu`](crate::activation::leaky_relu)); the
/// field is the slope.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LeakyRelu<T>(pub T);

impl<T: Real> Activation<T> for LeakyRelu<T> {
    #[inline]
    fn forward<R: Dim, C: Dim>(self, z: &OMatrix<T, R, C>) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        f::leaky_relu(z, self.0)
    }

    #[inline]
    fn backward<R: Dim, C: Dim>(
        self,
        z: &OMatrix<T, R, C>,
        dh: &OMatrix<T, R, C>,
    ) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        f::leaky_relu_backward(z, dh, self.0)
    }
}
