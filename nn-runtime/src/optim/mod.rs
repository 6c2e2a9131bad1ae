//! Optimizers: `θ ← θ − η_t · update(g)`, with weight decay, gradient clipping and
//! learning-rate schedules.
//!
//! Every optimizer implements [`Optimizer`]: [`Optimizer::step`] takes the network and its
//! gradient (a value of the network's own type, already averaged over the minibatch) and
//! updates the network in place. Update rules follow PyTorch's `torch.optim` (each type's docs
//! give the formula and say where it differs):
//!
//! | optimizer | update (per parameter) | config |
//! | --- | --- | --- |
//! | [`Sgd`] | `θ −= η g` | [`SgdConfig`] |
//! | [`Sgd`], `momentum` | `v = μ v + g`, `θ −= η v` | [`SgdConfig`] |
//! | [`Sgd`], `nesterov` | `v = μ v + g`, `θ −= η (g + μ v)` | [`SgdConfig`] |
//! | [`AdaGrad`] | `s += g²`, `θ −= η g / (√s + ε)` | [`AdaGradConfig`] |
//! | [`RmsProp`] | `s = α s + (1 − α) g²`, `θ −= η g / (√s + ε)` | [`RmsPropConfig`] |
//! | [`Adam`] | `m̂ / (√v̂ + ε)`, bias-corrected moments | [`AdamConfig`] |
//! | [`AdamW`] | Adam, and `θ −= η λ θ` decoupled from the gradient | [`AdamWConfig`] |
//!
//! Options every config has:
//!
//! - `weight_decay` `λ`: an L2 penalty, `g ← g + λ θ` before the update (for [`AdamW`]: the
//!   decoupled decay instead).
//! - `max_grad_norm`: clips the gradient by its global norm over all tensors,
//!   `g ← g · min(1, c / (‖g‖ + 10⁻⁶))` (PyTorch's `clip_grad_norm_`), before weight decay.
//! - `schedule`: the learning rate `η_t` of step `t`, from `lr` ([`Schedule`]).
//!
//! State (moments, velocities) lives in the optimizer, as boxed values of the network's own
//! type allocated by the constructor: [`Optimizer::step`] allocates nothing. It saves to and
//! loads from a safetensors file ([`Optim::save_state`], [`Optim::load_state`]; names in
//! [`state`]), for checkpoints.
//!
//! Each optimizer is an [`Optim`] around its [`UpdateRule`] (`Sgd<T, N>` is
//! `Optim<SgdRule<T, N>>`): the rule holds the state and the few lines of math, `Optim` what
//! they all share (config, schedule, clipping, step count). A new rule gets all of it.
//!
//! # Scalars: hyperparameters are `f64`
//!
//! Every config field (`lr`, `momentum`, `beta1`, `eps`, `weight_decay`, `max_grad_norm`, a
//! schedule's parameters) is an `f64`, whatever the network's scalar: one config serves an
//! `f32` and an `f64` network, and the schedule is computed in `f64` (a cosine or a step decay
//! of an `f32` rate would otherwise round at every step). At each step the scheduled rate `η_t`
//! and the other constants are rounded to the network's scalar `T` once
//! ([`Real::constant`]), and the update runs
//! in `T`; [`Optimizer::learning_rate`] returns that rounded `η_t` as a `T`. So write
//! `SgdConfig { lr: 0.01, .. }` for an `f32` network too (no `0.01f32`, no cast).
//!
//! The fused per-sample step a network generates, `net.sgd_step(&x, &y, lr)`, is not an
//! optimizer: it takes `lr` in the network's scalar (`0.01` is inferred as `f32` for a
//! `Net<f32>`), as the math it runs is in `T`.
//!
//! # Errors
//!
//! The constructors check every hyperparameter, and one out of its range (documented on each
//! config field) is a [`ConfigError`](crate::train::ConfigError) naming the field, its value
//! and the valid range: a NaN or infinite value anywhere, a negative `lr`, `weight_decay` or
//! schedule parameter, a decay rate (`β`, `α`, `μ`) outside `[0, 1)`, `ε` or `max_grad_norm`
//! not `> 0`. A step itself never fails; a step that overflows the weights is caught and
//! undone by [`fit`](crate::train::fit). (The crate's error policy is in
//! [`train`](crate::train#errors).)
//!
//! # Examples
//!
//! ```
//! use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
//! # use nn_runtime::Parameters;
//! // One parameter `w`, a weight without bias.
//! nn_runtime::network! { struct Net { input: 1, w: dense(1, bias = false), loss: mse } }
//! // Minimize ½ w² (gradient w) from w = 1.
//! let mut net = Net::<f64>::boxed_zeros();
//! net.w.weight[0] = 1.0;
//! let mut grad = Net::<f64>::boxed_zeros();
//! let mut opt = Sgd::<f64, Net<f64>>::new(SgdConfig { lr: 0.5, ..Default::default() })?;
//! for _ in 0..3 {
//!     grad.w.weight[0] = net.w.weight[0];
//!     opt.step(&mut net, &grad);
//! }
//! assert_eq!(net.w.weight[0], 0.125); // halved each step
//! # Ok::<(), nn_runtime::train::ConfigError>(())
//! ```

mod adagrad;
mod adam;
mod rmsprop;
mod rule;
mod schedule;
mod sgd;
pub mod state;

pub use adagrad::{AdaGrad, AdaGradConfig, AdaGradRule};
pub use adam::{Adam, AdamConfig, AdamRule, AdamW, AdamWConfig, AdamWRule};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropRule};
pub use rule::{Common, Optim, StepScalars, UpdateRule};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig, SgdRule};

use alloc::boxed::Box;

use crate::Real;
use crate::network::Parameters;

/// An optimizer: `θ ← θ − η_t · update(g, state)`, one step per minibatch.
pub trait Optimizer<T: Real, N: Parameters<T>> {
    /// One update of `net` from the gradient `grad` (already averaged over the minibatch).
    fn step(&mut self, net: &mut N, grad: &N);
    /// Learning rate for the next step (after schedules).
    fn learning_rate(&self) -> T;
}

/// A boxed optimizer is one, so the optimizer can be chosen at run time:
/// `Box<dyn Optimizer<f32, Net>>`.
impl<T: Real, N: Parameters<T>, O: Optimizer<T, N> + ?Sized> Optimizer<T, N> for Box<O> {
    fn step(&mut self, net: &mut N, grad: &N) {
        (**self).step(net, grad);
    }

    fn learning_rate(&self) -> T {
        (**self).learning_rate()
    }
}

/// A mutable reference to an optimizer is one (lends it to a training loop taking it by value).
impl<T: Real, N: Parameters<T>, O: Optimizer<T, N> + ?Sized> Optimizer<T, N> for &mut O {
    fn step(&mut self, net: &mut N, grad: &N) {
        (**self).step(net, grad);
    }

    fn learning_rate(&self) -> T {
        (**self).learning_rate()
    }
}

/// Added to the norm before dividing, as in PyTorch's `clip_grad_norm_`: keeps the clip
/// factor finite for a zero gradient (which is then never clipped anyway).
const CLIP_EPS: f64 = 1e-6;

/// `‖g‖₂ = √(Σ g²)` over every parameter of every tensor, accumulated in `f64`.
///
/// Accumulating in `f64` keeps an `f32` network's norm from overflowing or losing the small
/// tensors' contributions. The norm is NaN or infinite if the gradient is.
///
/// # Examples
///
/// ```
/// # use nn_runtime::Parameters;
/// nn_runtime::network! { struct Net { input: 1, w: dense(2, bias = false), loss: mse } }
/// let mut grad = Net::<f32>::boxed_zeros();
/// grad.w.weight.copy_from_slice(&[3.0, 4.0]);
/// assert_eq!(nn_runtime::optim::global_norm(&*grad), 5.0);
/// ```
pub fn global_norm<T: Real, N: Parameters<T>>(grad: &N) -> f64 {
    let mut sum = 0.0;
    for index in 0..N::TENSORS.len() {
        for g in grad.tensor(index) {
            let g = g.to_f64();
            sum += g * g;
        }
    }
    libm::sqrt(sum)
}

/// The factor that clips `grad` to global norm `max_norm`: `min(1, max_norm / (‖g‖ + 10⁻⁶))`;
/// `1` without clipping.
fn clip_factor<T: Real, N: Parameters<T>>(grad: &N, max_norm: Option<f64>) -> f64 {
    match max_norm {
        Some(max_norm) => (max_norm / (global_norm(grad) + CLIP_EPS)).min(1.0),
        None => 1.0,
    }
}

/// Runs `f(θ, g, [s₁, …, s_K])` on every parameter, tensor by tensor, where `θ` is the
/// parameter, `g` its gradient and `sₖ` its entry in the state `state[k]` (a momentum, a
/// moment estimate): the loop every optimizer's step is made of.
fn for_each<T: Real, N: Parameters<T>, const K: usize>(
    net: &mut N,
    grad: &N,
    mut state: [&mut N; K],
    mut f: impl FnMut(&mut T, T, [&mut T; K]),
) {
    for index in 0..N::TENSORS.len() {
        // A batch norm's running statistics are buffers, updated by training mode only.
        if !N::TENSORS[index].role.is_trained() {
            continue;
        }
        let grads = grad.tensor(index);
        let mut slices = state.each_mut().map(|s| s.tensor_mut(index));
        for (i, (p, g)) in net.tensor_mut(index).iter_mut().zip(grads).enumerate() {
            f(p, *g, slices.each_mut().map(|s| &mut s[i]));
        }
    }
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
