//! Parameter initialization: `θ ~ scheme(fan_in, fan_out, gain)`, seeded and reproducible.
//!
//! [`Init`] sets every tensor of a network from a [`Scheme`] chosen per tensor:
//!
//! 1. a [`Init::tensor`] override naming the tensor (`"h1.bias"`), else
//! 2. a [`Init::layer`] override naming its layer (weights only, see [`Init::layer`]), else
//! 3. the network-wide [`Init::weights`] / [`Init::biases`] scheme, else
//! 4. the default for the tensor's role and its layer's activation, [`default_scheme`]:
//!
//! | tensor | layer activation | default scheme |
//! | --- | --- | --- |
//! | `Weight` | `relu`, `leaky_relu`, `gelu`, `gelu_tanh`, `silu`, `softplus` | [`Scheme::KaimingNormal`]`(`[`Gain::Activation`]`)`: `N(0, gain²/fan_in)` |
//! | `Weight` | `identity`, `tanh`, `sigmoid`, `softmax`, `step` | [`Scheme::XavierUniform`]`(`[`Gain::Activation`]`)`: `U[−a, a]`, `a = gain·√(6/(fan_in+fan_out))` |
//! | `Projection` | (any) | [`Scheme::XavierUniform`]`(`[`Gain::Value`]`(1.0))`: a residual's projection is linear |
//! | `Bias` | (any) | [`Scheme::Zeros`] |
//! | `NormGain` (layer norm `γ`) | | [`Scheme::Constant`]`(1.0)` (PyTorch's `LayerNorm`) |
//! | `NormShift` (layer norm `β`) | | [`Scheme::Zeros`] |
//! | `RunningMean` (batch norm buffer) | | [`Scheme::Zeros`] (PyTorch's `BatchNorm1d`) |
//! | `RunningVar` (batch norm buffer) | | [`Scheme::Constant`]`(1.0)` |
//!
//! The gain of an activation is PyTorch's `torch.nn.init.calculate_gain`, see [`gain`].
//!
//! # Reproducibility
//!
//! The same seed gives bit-identical parameters on every run and every platform:
//!
//! - Each tensor has its own random stream: a [`ChaCha8Rng`] made by
//!   `ChaCha8Rng::seed_from_u64(seed)` then `set_stream(fnv1a_64(name))`, where `name` is the
//!   tensor's name (`"h1.weight"`) and `fnv1a_64` the 64-bit FNV-1a hash of its UTF-8 bytes. A
//!   tensor's values therefore depend only on the seed, its name, its shape and its scheme, not
//!   on the other tensors: overriding one layer leaves every other layer as it was.
//! - Values are drawn in storage order: draw `k` goes to element `k` of
//!   [`Parameters::tensor`], i.e. column-major, so element `(row, col)` of an `[out, in]` weight
//!   is draw `col * out + row`.
//! - The stream yields `u64`s `x` (two ChaCha output words each, the first the low half).
//! - Uniform schemes take one draw of `rand_distr::Uniform::new_inclusive(-a, a)` per element:
//!   `low + s · (f − 1)` with `f ∈ [1, 2)` the float of exponent 0 and mantissa `x >> 12`, and
//!   `s` the largest float with `s · (1 − 2⁻⁵²) − a ≤ a` (starting from `2a / (1 − 2⁻⁵²)`).
//! - Normal schemes use the Box–Muller transform: elements `2j` and `2j + 1` come from two
//!   consecutive draws as `r cos(2πu₂)` and `r sin(2πu₂)`, `r = √(−2 ln u₁)`, where
//!   `u₁ = ((x₁ >> 11) + 1) · 2⁻⁵³ ∈ (0, 1]` and `u₂ = (x₂ >> 11) · 2⁻⁵³ ∈ [0, 1)` (rand's
//!   `OpenClosed01` and `StandardUniform`); a trailing odd element takes the cosine and the
//!   sine is discarded.
//!   `ln`, `cos`, `sin` and `√` come from the pure-Rust `libm` crate, not the platform's math
//!   library (which `rand_distr::Normal` uses, and whose last bit varies between platforms).
//! - Everything is computed in `f64` and rounded once to the network's scalar, so an `f32` and
//!   an `f64` network initialized with the same seed agree to `f32` rounding.
//!
//! # Errors
//!
//! [`Init::apply`] and [`Init::build`] check every override and scheme before writing and
//! return an [`InitError`] naming the layer, tensor or scheme; nothing here panics on user
//! input. (The crate's error policy is in [`train`](crate::train#errors).)
//!
//! # Examples
//!
//! ```
//! use nn_runtime::init::{Init, Scheme};
//! nn_runtime::network! { struct Net { input: 3, h1: dense(4, tanh), loss: mse } }
//! let init = Init::default().seed(42).layer("h1", Scheme::Uniform(0.1));
//! let net: Box<Net<f64>> = init.build().unwrap();
//! assert!(net.h1.weight.iter().all(|w| w.abs() <= 0.1));
//! assert!(net.h1.bias.iter().all(|b| *b == 0.0));
//! assert_eq!(net.h1, init.build::<f64, Net<f64>>().unwrap().h1, "same seed, same weights");
//!
//! // A typo is an error, not a silently ignored override.
//! assert!(Init::default().layer("h2", Scheme::Zeros).build::<f64, Net<f64>>().is_err());
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, OpenClosed01, StandardUniform, Uniform};

use crate::Real;
use crate::activation::ActivationKind;
use crate::network::{Parameters, TensorInfo, TensorRole};

/// The gain `g` that scales a Xavier or Kaiming scheme: `std ∝ g`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gain {
    /// The gain of the tensor's layer activation, [`gain`] (PyTorch's `calculate_gain`).
    Activation,
    /// This gain, whatever the activation.
    Value(f64),
}

/// The recommended gain of an activation, PyTorch's `torch.nn.init.calculate_gain`:
/// `relu` `√2`, `leaky_relu` `√(2/(1 + slope²))`, `tanh` `5/3`, `sigmoid` and `identity` `1`.
///
/// PyTorch has no entry for the others; the choice here: `gelu`, `gelu_tanh`, `silu` and
/// `softplus` take relu's `√2` (each is ≈ relu away from 0, and it is what is commonly used for
/// them), `softmax` and `step` take `1` (output units, like a linear layer).
///
/// # Examples
///
/// ```
/// use nn_runtime::{ActivationKind, init::gain};
/// assert_eq!(gain(ActivationKind::Tanh), 5.0 / 3.0);
/// assert_eq!(gain(ActivationKind::Relu), 2f64.sqrt());
/// assert_eq!(gain(ActivationKind::LeakyRelu { slope: 1.0 }), 1.0);
/// ```
pub fn gain(activation: ActivationKind) -> f64 {
    match activation {
        ActivationKind::Identity
        | ActivationKind::Step
        | ActivationKind::Sigmoid
        | ActivationKind::Softmax => 1.0,
        ActivationKind::Tanh => 5.0 / 3.0,
        ActivationKind::Relu
        | ActivationKind::Gelu
        | ActivationKind::GeluTanh
        | ActivationKind::Silu
        | ActivationKind::Softplus => libm::sqrt(2.0),
        ActivationKind::LeakyRelu { slope } => libm::sqrt(2.0 / (1.0 + slope * slope)),
    }
}

/// How to draw one tensor: `θ ~ D(fan_in, fan_out, gain)`.
///
/// `fan_in` and `fan_out` are the tensor's [`TensorInfo::fan_in`] and [`TensorInfo::fan_out`]:
/// `in` and `out` for an `[out, in]` weight, `1` and the width for a vector. Xavier and Kaiming
/// are meant for weights; on a vector they still apply, with those fans.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// `θ = 0`.
    ///
    /// Right for biases. For the weights of a hidden layer it is a trap (the symmetry
    /// problem): every unit of the layer computes the same function, receives the same
    /// gradient and takes the same step, so the units stay identical forever and the layer is
    /// worth one unit. With zero weights everywhere, even that unit gets no gradient through
    /// the layers above. Random initialization exists to break this symmetry.
    Zeros,
    /// `θ = c`.
    ///
    /// Has the same symmetry problem as [`Scheme::Zeros`] when used for weights: identical
    /// units stay identical under gradient descent. Use it for biases, a layer norm's gain,
    /// or to demonstrate the problem.
    Constant(f64),
    /// `θ ~ U[−a, a]`: mean `0`, variance `a²/3`.
    Uniform(f64),
    /// `θ ~ N(mean, std²)`.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation (not the variance).
        std: f64,
    },
    /// Glorot & Bengio (2010): `θ ~ U[−a, a]`, `a = gain·√(6/(fan_in + fan_out))`, variance
    /// `gain²·2/(fan_in + fan_out)` (PyTorch's `xavier_uniform_`).
    XavierUniform(Gain),
    /// Glorot & Bengio (2010): `θ ~ N(0, std²)`, `std = gain·√(2/(fan_in + fan_out))`
    /// (PyTorch's `xavier_normal_`).
    XavierNormal(Gain),
    /// He et al. (2015), fan-in mode: `θ ~ U[−a, a]`, `a = gain·√(3/fan_in)`, variance
    /// `gain²/fan_in` (PyTorch's `kaiming_uniform_`, `mode='fan_in'`).
    KaimingUniform(Gain),
    /// He et al. (2015), fan-in mode: `θ ~ N(0, std²)`, `std = gain/√fan_in` (PyTorch's
    /// `kaiming_normal_`, `mode='fan_in'`).
    KaimingNormal(Gain),
}

/// A scheme resolved for one tensor: the distribution its values are drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draw {
    /// Every value is this constant.
    Constant(f64),
    /// `U[−a, a]`.
    Uniform {
        /// The half-width.
        a: f64,
    },
    /// `N(mean, std²)`.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        std: f64,
    },
}

impl Draw {
    /// `E[θ]`: `c`, `0`, or `mean`.
    pub fn mean(&self) -> f64 {
        match *self {
            Draw::Constant(c) => c,
            Draw::Uniform { .. } => 0.0,
            Draw::Normal { mean, .. } => mean,
        }
    }

    /// `Var[θ]`: `0`, `a²/3`, or `std²`.
    pub fn variance(&self) -> f64 {
        match *self {
            Draw::Constant(_) => 0.0,
            Draw::Uniform { a } => a * a / 3.0,
            Draw::Normal { std, .. } => std * std,
        }
    }

    /// Why the parameters can't be drawn from, if they can't: non-finite, or negative spread.
    fn problem(&self) -> Option<&'static str> {
        match *self {
            Draw::Constant(c) if !c.is_finite() => Some("the constant is not finite"),
            Draw::Uniform { a } if !(a.is_finite() && a >= 0.0) => {
                Some("the half-width must be finite and non-negative")
            }
            Draw::Normal { mean, std } if !(mean.is_finite() && std.is_finite() && std >= 0.0) => {
                Some("the mean must be finite and the standard deviation finite and non-negative")
            }
            _ => None,
        }
    }
}

impl Scheme {
    /// The distribution this scheme draws `info`'s values from: fans and gain substituted.
    ///
    /// # Examples
    ///
    /// ```
    /// use nn_runtime::{ActivationKind, TensorInfo, TensorRole};
    /// use nn_runtime::init::{Draw, Gain, Scheme};
    /// let info = TensorInfo {
    ///     name: "h1.weight", layer: "h1", shape: &[64, 32],
    ///     role: TensorRole::Weight, activation: ActivationKind::Relu,
    /// };
    /// // std = √2 / √32 = 1/4
    /// assert_eq!(Scheme::KaimingNormal(Gain::Activation).resolve(&info), Draw::Normal { mean: 0.0, std: 0.25 });
    /// ```
    pub fn resolve(&self, info: &TensorInfo) -> Draw {
        let fan_in = info.fan_in() as f64;
        let fan_out = info.fan_out() as f64;
        let gain = |g: Gain| match g {
            Gain::Activation => gain(info.activation),
            Gain::Value(value) => value,
        };
        match *self {
            Scheme::Zeros => Draw::Constant(0.0),
            Scheme::Constant(c) => Draw::Constant(c),
            Scheme::Uniform(a) => Draw::Uniform { a },
            Scheme::Normal { mean, std } => Draw::Normal { mean, std },
            Scheme::XavierUniform(g) => Draw::Uniform {
                a: gain(g) * libm::sqrt(6.0 / (fan_in + fan_out)),
            },
            Scheme::XavierNormal(g) => Draw::Normal {
                mean: 0.0,
                std: gain(g) * libm::sqrt(2.0 / (fan_in + fan_out)),
            },
            Scheme::KaimingUniform(g) => Draw::Uniform {
                a: gain(g) * libm::sqrt(3.0 / fan_in),
            },
            Scheme::KaimingNormal(g) => Draw::Normal {
                mean: 0.0,
                std: gain(g) / libm::sqrt(fan_in),
            },
        }
    }
}

/// The scheme a tensor gets when nothing overrides it (the table in the [module docs](self)).
pub fn default_scheme(info: &TensorInfo) -> Scheme {
    match info.role {
        TensorRole::Weight => match info.activation {
            ActivationKind::Relu
            | ActivationKind::LeakyRelu { .. }
            | ActivationKind::Gelu
            | ActivationKind::GeluTanh
            | ActivationKind::Silu
            | ActivationKind::Softplus => Scheme::KaimingNormal(Gain::Activation),
            ActivationKind::Identity
            | ActivationKind::Tanh
            | ActivationKind::Sigmoid
            | ActivationKind::Softmax
            | ActivationKind::Step => Scheme::XavierUniform(Gain::Activation),
        },
        TensorRole::Projection => Scheme::XavierUniform(Gain::Value(1.0)),
        TensorRole::Bias | TensorRole::NormShift | TensorRole::RunningMean => Scheme::Zeros,
        TensorRole::NormGain | TensorRole::RunningVar => Scheme::Constant(1.0),
        TensorRole::RecurrentWeight { hidden } | TensorRole::RecurrentBias { hidden } => {
            Scheme::Uniform(1.0 / libm::sqrt(hidden as f64))
        }
    }
}

/// Why [`Init::apply`] refused to initialize a network. Nothing was written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// [`Init::layer`] named a layer the network does not have.
    #[error(
        "init override names layer `{name}`, which this network does not have; its layers are {}",
        list(layers)
    )]
    UnknownLayer {
        /// The name given.
        name: String,
        /// The network's layers that have parameters, in declaration order.
        layers: Vec<&'static str>,
    },
    /// [`Init::tensor`] named a tensor the network does not have.
    #[error(
        "init override names tensor `{name}`, which this network does not have; its tensors are {}",
        list(tensors)
    )]
    UnknownTensor {
        /// The name given.
        name: String,
        /// The network's tensors, in declaration order.
        tensors: Vec<&'static str>,
    },
    /// A scheme resolved to a distribution that can't be drawn from (e.g. `std < 0`, NaN).
    #[error("cannot initialize `{tensor}` with {scheme:?}: {reason}")]
    InvalidScheme {
        /// The tensor it was meant for.
        tensor: &'static str,
        /// The scheme.
        scheme: Scheme,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// `names` as `` `a`, `b`, `c` ``.
fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|name| alloc::format!("`{name}`"))
        .collect();
    quoted.join(", ")
}

/// Initializes a network: per-tensor [`Scheme`]s from defaults and overrides, one seed.
///
/// A builder: start from [`Init::default`] (seed 0, every tensor at its [`default_scheme`]),
/// add overrides, then [`Init::apply`] it to a network or [`Init::build`] a new one. Overrides
/// are checked against the network when applied: a name it does not have is an error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Init {
    seed: u64,
    weights: Option<Scheme>,
    biases: Option<Scheme>,
    layers: Vec<(String, Scheme)>,
    tensors: Vec<(String, Scheme)>,
}

impl Init {
    /// Default schemes, seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Init {
            seed,
            ..Init::default()
        }
    }

    /// Sets the seed (the default is 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Uses `scheme` for every weight and projection of the network (not biases, not layer
    /// norms), unless a layer or tensor override says otherwise.
    pub fn weights(mut self, scheme: Scheme) -> Self {
        self.weights = Some(scheme);
        self
    }

    /// Uses `scheme` for every bias of the network (not a layer norm's shift), unless a
    /// tensor override says otherwise.
    pub fn biases(mut self, scheme: Scheme) -> Self {
        self.biases = Some(scheme);
        self
    }

    /// Uses `scheme` for the weights of layer `name`: its `weight` and its residual projection
    /// (`h2.weight`, `h2.proj.weight`), or the gain `γ` of a layer norm (`norm.weight`).
    ///
    /// Biases and layer-norm shifts are left alone; set them with [`Init::tensor`]. A later
    /// override of the same layer replaces an earlier one. [`Init::apply`] fails if the network
    /// has no such layer.
    pub fn layer(mut self, name: &str, scheme: Scheme) -> Self {
        self.layers.retain(|(layer, _)| layer != name);
        self.layers.push((name.into(), scheme));
        self
    }

    /// Uses `scheme` for the tensor named `name` (`"h1.bias"`), whatever else applies.
    ///
    /// [`Init::apply`] fails if the network has no such tensor.
    pub fn tensor(mut self, name: &str, scheme: Scheme) -> Self {
        self.tensors.retain(|(tensor, _)| tensor != name);
        self.tensors.push((name.into(), scheme));
        self
    }

    /// The scheme `info` gets: its tensor override, else its layer's, else the network-wide
    /// one for its role, else [`default_scheme`].
    pub fn scheme_for(&self, info: &TensorInfo) -> Scheme {
        let by_tensor = self.tensors.iter().find(|(name, _)| name == info.name);
        let weight_like = matches!(
            info.role,
            TensorRole::Weight | TensorRole::Projection | TensorRole::RecurrentWeight { .. }
        );
        let by_layer = match info.role {
            TensorRole::Weight
            | TensorRole::Projection
            | TensorRole::NormGain
            | TensorRole::RecurrentWeight { .. } => {
                self.layers.iter().find(|(name, _)| name == info.layer)
            }
            TensorRole::Bias
            | TensorRole::NormShift
            | TensorRole::RunningMean
            | TensorRole::RunningVar
            | TensorRole::RecurrentBias { .. } => None,
        };
        let network_wide = match info.role {
            _ if weight_like => self.weights,
            TensorRole::Bias | TensorRole::RecurrentBias { .. } => self.biases,
            _ => None,
        };
        by_tensor
            .or(by_layer)
            .map(|(_, scheme)| *scheme)
            .or(network_wide)
            .unwrap_or_else(|| default_scheme(info))
    }

    /// Overwrites every parameter of `net` with a fresh draw.
    ///
    /// # Errors
    /// If an override names a layer or tensor `N` does not have, or a scheme can't be drawn
    /// from (e.g. a negative `std`). Every check runs before anything is written: on error,
    /// `net` is unchanged.
    pub fn apply<T: Real, N: Parameters<T>>(&self, net: &mut N) -> Result<(), InitError> {
        self.check::<T, N>()?;
        for (index, info) in N::TENSORS.iter().enumerate() {
            let draw = self.scheme_for(info).resolve(info);
            fill(net.tensor_mut(index), draw, self.seed, info.name);
        }
        Ok(())
    }

    /// A new network, allocated on the heap ([`Parameters::boxed_zeros`]) and initialized.
    ///
    /// # Errors
    /// As [`Init::apply`].
    pub fn build<T: Real, N: Parameters<T>>(&self) -> Result<Box<N>, InitError> {
        let mut net = N::boxed_zeros();
        self.apply(&mut *net)?;
        Ok(net)
    }

    /// Every check [`Init::apply`] makes, without writing.
    fn check<T: Real, N: Parameters<T>>(&self) -> Result<(), InitError> {
        let tensors = N::TENSORS;
        if let Some((name, _)) = self
            .layers
            .iter()
            .find(|(name, _)| !tensors.iter().any(|t| t.layer == name))
        {
            let mut layers: Vec<&'static str> = Vec::new();
            for info in tensors {
                if !layers.contains(&info.layer) {
                    layers.push(info.layer);
                }
            }
            return Err(InitError::UnknownLayer {
                name: name.clone(),
                layers,
            });
        }
        if let Some((name, _)) = self
            .tensors
            .iter()
            .find(|(name, _)| !tensors.iter().any(|t| t.name == name))
        {
            let tensors = tensors.iter().map(|t| t.name).collect();
            return Err(InitError::UnknownTensor {
                name: name.clone(),
                tensors,
            });
        }
        for info in tensors {
            let scheme = self.scheme_for(info);
            if let Some(reason) = scheme.resolve(info).problem() {
                return Err(InitError::InvalidScheme {
                    tensor: info.name,
                    scheme,
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// The random stream of tensor `name`: ChaCha8 seeded from `seed`, stream `fnv1a_64(name)`.
fn stream(seed: u64, name: &str) -> ChaCha8Rng {
    // FNV-1a, 64 bits: offset basis and prime from the specification.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(hash);
    rng
}

/// Writes draws from `draw` into `out` in storage order (see the module docs).
fn fill<T: Real>(out: &mut [T], draw: Draw, seed: u64, name: &str) {
    match draw {
        Draw::Constant(c) => out.fill(T::constant(c)),
        Draw::Uniform { a } => {
            let mut rng = stream(seed, name);
            // `check` proved `a` finite and non-negative, for which this constructor succeeds.
            let uniform = Uniform::new_inclusive(-a, a).expect("a finite, non-negative half-width");
            for value in out.iter_mut() {
                *value = T::constant(uniform.sample(&mut rng));
            }
        }
        Draw::Normal { mean, std } => {
            let mut rng = stream(seed, name);
            for pair in out.chunks_mut(2) {
                let u1: f64 = OpenClosed01.sample(&mut rng);
                let u2: f64 = StandardUniform.sample(&mut rng);
                let r = libm::sqrt(-2.0 * libm::log(u1));
                let theta = 2.0 * core::f64::consts::PI * u2;
                let z = [r * libm::cos(theta), r * libm::sin(theta)];
                for (value, z) in pair.iter_mut().zip(z) {
                    *value = T::constant(mean + std * z);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
