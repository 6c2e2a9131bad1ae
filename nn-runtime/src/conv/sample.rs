//! One sample: direct loops over the window, allocation-free.

use nalgebra::{SMatrix, SVector};

use super::Window;
use crate::Real;

/// `z = W ⋆ x + b`: the convolution of one sample `x` (`[C, H, W]` flattened, see the
/// [module](super)), output `[OUT/positions, oh, ow]` flattened; no bias when `bias` is `None`.
#[inline]
pub fn conv<T: Real, const FAN_IN: usize, const CO: usize, const IN: usize, const OUT: usize>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &SVector<T, IN>,
    window: &Window,
) -> SVector<T, OUT> {
    conv_act(weight, bias, x, window, false)
}

/// `h = relu(W ⋆ x + b)`: [`conv`] with relu applied as each output is stored (in `f32` by the
/// kernel's store itself), the convolution of a layer declared with `relu`, whose forward keeps
/// `h` only (its backward reads relu′ off `h`: `h > 0` exactly where `z > 0`).
#[inline]
pub fn conv_relu<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &SVector<T, IN>,
    window: &Window,
) -> SVector<T, OUT> {
    conv_act(weight, bias, x, window, true)
}

/// [`conv`], with relu on the store when `relu`.
#[inline]
fn conv_act<T: Real, const FAN_IN: usize, const CO: usize, const IN: usize, const OUT: usize>(
    weight: &SMatrix<T, FAN_IN, CO>,
    bias: Option<&SVector<T, CO>>,
    x: &SVector<T, IN>,
    window: &Window,
    relu: bool,
) -> SVector<T, OUT> {
    window.check(IN, OUT, CO);
    let mut z = zeroed::<T, OUT>();
    let (weight, bias) = (weight.as_slice(), bias.map(|b| b.as_slice()));
    if !super::direct::conv(weight, bias, x.as_slice(), z.as_mut_slice(), window, relu) {
        conv_slices(weight, bias, x.as_slice(), z.as_mut_slice(), window);
        if relu {
            z.iter_mut().for_each(|z| *z = super::relu(*z));
        }
    }
    z
}

/// [`conv`] on slices: `z` (`CO · positions`, zeroed by the caller) `+= W ⋆ x + b`.
pub(super) fn conv_slices<T: Real>(
    weight: &[T],
    bias: Option<&[T]>,
    x: &[T],
    z: &mut [T],
    window: &Window,
) {
    let (taps, plane, kernel) = (
        window.taps(),
        window.positions(),
        window.kernel[0] * window.kernel[1],
    );
    let step = window.stride[1];
    for (co, z) in z.chunks_exact_mut(plane).enumerate() {
        if let Some(bias) = bias {
            z.iter_mut().for_each(|z| *z = bias[co]);
        }
        let kernel_of = &weight[co * taps..(co + 1) * taps];
        for ci in 0..window.channels {
            let w = &kernel_of[ci * kernel..(ci + 1) * kernel];
            window.rows(ci, |tap, x_at, z_at, n| {
                let w = w[tap];
                let z = &mut z[z_at..z_at + n];
                if step == 1 {
                    for (z, &x) in z.iter_mut().zip(&x[x_at..x_at + n]) {
                        *z += w * x;
                    }
                } else {
                    for (j, z) in z.iter_mut().enumerate() {
                        *z += w * x[x_at + j * step];
                    }
                }
            });
        }
    }
}

/// `∂L/∂W += dz ⋆ x` and `∂L/∂b += Σ_positions dz` for one sample (the bias when `grad_bias` is
/// given).
#[inline]
pub fn conv_grad<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    grad_weight: &mut SMatrix<T, FAN_IN, CO>,
    grad_bias: Option<&mut SVector<T, CO>>,
    dz: &SVector<T, OUT>,
    x: &SVector<T, IN>,
    window: &Window,
) {
    window.check(IN, OUT, CO);
    weight_update(
        grad_weight.as_mut_slice(),
        T::one(),
        dz.as_slice(),
        x.as_slice(),
        window,
    );
    if let Some(grad_bias) = grad_bias {
        bias_update(grad_bias.as_mut_slice(), T::one(), dz.as_slice(), window);
    }
}

/// A fused SGD step: `W −= lr ∂L/∂W`, `b −= lr ∂L/∂b` from one sample, no gradient stored.
/// (Call [`conv_backward_input`] first: it must read the weight from before the step.)
#[inline]
pub fn conv_descend<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &mut SMatrix<T, FAN_IN, CO>,
    bias: Option<&mut SVector<T, CO>>,
    dz: &SVector<T, OUT>,
    x: &SVector<T, IN>,
    lr: T,
    window: &Window,
) {
    window.check(IN, OUT, CO);
    weight_update(
        weight.as_mut_slice(),
        -lr,
        dz.as_slice(),
        x.as_slice(),
        window,
    );
    if let Some(bias) = bias {
        bias_update(bias.as_mut_slice(), -lr, dz.as_slice(), window);
    }
}

/// `w += scale · (dz ⋆ x)`.
fn weight_update<T: Real>(weight: &mut [T], scale: T, dz: &[T], x: &[T], window: &Window) {
    let (taps, plane, kernel) = (
        window.taps(),
        window.positions(),
        window.kernel[0] * window.kernel[1],
    );
    let step = window.stride[1];
    for (co, dz) in dz.chunks_exact(plane).enumerate() {
        let kernel_of = &mut weight[co * taps..(co + 1) * taps];
        for ci in 0..window.channels {
            let w = &mut kernel_of[ci * kernel..(ci + 1) * kernel];
            window.rows(ci, |tap, x_at, z_at, n| {
                let dz = &dz[z_at..z_at + n];
                let mut sum = T::zero();
                for (j, &d) in dz.iter().enumerate() {
                    sum += d * x[x_at + j * step];
                }
                w[tap] += scale * sum;
            });
        }
    }
}

/// `b += scale · Σ_positions dz`.
fn bias_update<T: Real>(bias: &mut [T], scale: T, dz: &[T], window: &Window) {
    for (b, dz) in bias.iter_mut().zip(dz.chunks_exact(window.positions())) {
        *b += scale * dz.iter().fold(T::zero(), |sum, &d| sum + d);
    }
}

/// `∂L/∂x = Wᵀ ⋆ dz`: the gradient flowing back to the convolution's input, for one sample.
#[inline]
pub fn conv_backward_input<
    T: Real,
    const FAN_IN: usize,
    const CO: usize,
    const IN: usize,
    const OUT: usize,
>(
    weight: &SMatrix<T, FAN_IN, CO>,
    dz: &SVector<T, OUT>,
    window: &Window,
) -> SVector<T, IN> {
    window.check(IN, OUT, CO);
    let mut dx = zeroed::<T, IN>();
    backward_input_slices(weight.as_slice(), dz.as_slice(), dx.as_mut_slice(), window);
    dx
}

/// [`conv_backward_input`] on slices: `dx += Wᵀ ⋆ dz`.
fn backward_input_slices<T: Real>(weight: &[T], dz: &[T], dx: &mut [T], window: &Window) {
    let (taps, plane, kernel) = (
        window.taps(),
        window.positions(),
        window.kernel[0] * window.kernel[1],
    );
    let step = window.stride[1];
    for (co, dz) in dz.chunks_exact(plane).enumerate() {
        let kernel_of = &weight[co * taps..(co + 1) * taps];
        for ci in 0..window.channels {
            let w = &kernel_of[ci * kernel..(ci + 1) * kernel];
            window.rows(ci, |tap, x_at, z_at, n| {
                let w = w[tap];
                for (j, &d) in dz[z_at..z_at + n].iter().enumerate() {
                    dx[x_at + j * step] += w * d;
                }
            });
        }
    }
}

/// An all-zero `SVector`, made without nalgebra's constructors, which build it through an
/// iterator and, in a debug build, hold several copies of a large feature map on the stack at
/// once (the difference between a 2 and a 3 MiB stack for a 32-64-channel network).
#[inline]
fn zeroed<T: Real, const N: usize>() -> SVector<T, N> {
    // SAFETY: an `SVector<T, N>` is an array of `N` scalars, and all-zero bits are the value 0
    // of every `Real` (plain IEEE floats, or duals made of them; see `Zeroable`).
    unsafe { core::mem::zeroed() }
}
