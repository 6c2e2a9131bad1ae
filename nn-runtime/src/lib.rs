// The crate documentation is the crate's README (shown on crates.io too), so its examples are
// doctests; it is inside the package, unlike the repository's README.
#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;
// Lets `network!` (whose expansion names `::nn_runtime`) be used in this crate's own tests.
extern crate self as nn_runtime;

pub mod activation;
pub mod blocks;
mod classifier;
pub mod conv;
#[cfg(feature = "std")]
pub mod data;
pub mod dual;
mod embed;
pub mod fpenv;
#[cfg(feature = "std")]
pub mod gradcheck;
#[cfg(feature = "std")]
pub mod idx;
mod inference;
#[cfg(feature = "std")]
pub mod init;
#[cfg(feature = "std")]
pub mod io;
pub mod layer;
pub mod linalg;
pub mod loss;
#[cfg(feature = "std")]
pub mod metrics;
pub mod mode;
mod network;
#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "std")]
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
mod real;
pub mod recurrent;
#[cfg(feature = "std")]
pub mod train;
#[cfg(feature = "std")]
pub mod ts;
mod with_alloc;

pub use activation::ActivationKind;
pub use classifier::Classifier;
pub use fpenv::FlushSubnormals;
#[cfg(feature = "std")]
pub use gradcheck::{
    GradientCheck, check_gradient, check_gradient_batch, check_gradient_dual,
    check_gradient_dual_batch,
};
#[cfg(feature = "std")]
pub use init::{Init, InitError, Scheme};
#[cfg(feature = "std")]
pub use io::WeightsError;
pub use layer::{Dense, LayerNorm, Linear, Zeroable};
#[cfg(feature = "alloc")]
pub use linalg::{
    Batch, BatchOf, BatchStorage, BatchView, RaggedSamples, batch_view, batch_view_flat,
};
#[cfg(feature = "alloc")]
pub use loss::one_hot_batch;
pub use loss::{LossKind, one_hot, one_hot_checked};
pub use mode::{BatchNorm, Training};
pub use network::{
    LayerInfo, LayerKind, Network, Parameters, ResidualInfo, ResidualSource, TensorInfo, TensorRole,
};
#[cfg(feature = "std")]
pub use optim::Optimizer;
pub use real::Real;
#[cfg(feature = "alloc")]
pub use recurrent::SequenceNetwork;
#[cfg(feature = "std")]
pub use train::ConfigError;

/// The nalgebra this crate was built against; generated code and users share it.
pub use nalgebra;

/// Declares a statically-sized network: a struct generic over the scalar, with its forward
/// pass, its backward pass and a fused SGD step, per sample and per batch.
///
/// ```text
/// network  := attr* vis 'struct' NAME '{' entry (',' entry)* ','? '}'
/// entry    := 'input' ':' (WIDTH | SHAPE)       first entry: the input width or shape
///           | 'input' ':' 'seq' '(' WIDTH ')'   or a sequence of WIDTH-feature steps
///           | doc* LAYER ':' layer residual?    a layer; LAYER becomes a field name
///           | 'loss' ':' LOSS                   last entry; none: inference only
/// WIDTH    := an integer literal, 1 to 2^24
/// SHAPE    := '[' C ',' L ']' | '[' C ',' H ',' W ']'   channels first, as PyTorch
/// layer    := 'dense' '(' WIDTH (',' activation)? (',' 'bias' '=' BOOL)? ')'
///           | 'layer_norm' ( '(' activation? (',' 'eps' '=' FLOAT)? ')' )?
///           | 'dropout' '(' P ')'               P in [0, 1): dropped in training
///           | 'batch_norm' ( '(' activation? (',' 'eps' '=' FLOAT)? (',' 'momentum' '=' FLOAT)? ')' )?
///           | 'rnn' '(' WIDTH (',' ('tanh' | 'relu'))? ')' | 'gru' '(' WIDTH ')'
///           | 'lstm' '(' WIDTH ')'              recurrent cells, on a sequence
///           | 'last' | 'mean'                   a sequence reduced to a vector
///           | ('conv1d' | 'conv2d') '(' CHANNELS (',' conv_arg)* ')'
///           | ('max_pool' | 'avg_pool') '(' SIZE (',' 'stride' '=' SIZE)? ')'
///           | 'global_avg_pool'
/// conv_arg := 'kernel' '=' SIZE | 'stride' '=' SIZE | 'padding' '=' (SIZE | 'same')
///           | 'dilation' '=' SIZE | 'bias' '=' BOOL | activation
///           | 'causal'                          conv1d on a sequence: sees steps t−(K−1)·D … t
/// SIZE     := INT | '(' INT ',' INT ')'         (height, width): conv2d and 2-D pools only
/// residual := '+' SOURCE                        h = σ(z) + h_SOURCE   (same width)
///           | '+' 'project' '(' SOURCE ')'      h = σ(z) + P h_SOURCE (P learned)
/// SOURCE   := 'input' | an earlier LAYER
/// activation := identity | step | relu | leaky_relu ( '(' SLOPE ')' )? | sigmoid | tanh
///           | softplus | gelu ( '(' tanh ')' )? | silu | softmax
/// LOSS     := mse | binary_cross_entropy | softmax_cross_entropy
/// ```
///
/// `dense(n, σ)` is `z = W h + b`, `h' = σ(z)` with `W` `[n, in]` (PyTorch's `nn.Linear`);
/// `layer_norm` is PyTorch's `nn.LayerNorm` over the features (`eps = 1e-5` unless given).
/// `dropout(p)` and `batch_norm` (PyTorch's `nn.Dropout` and `nn.BatchNorm1d`, `eps = 1e-5`,
/// `momentum = 0.1`) compute differently in training (`train_batch`, which takes a
/// [`Training`]) and at inference (every other method); see the module [`mode`]. On a
/// feature map `batch_norm` normalizes each channel over the batch and its positions
/// (`nn.BatchNorm1d` on `[N, C, L]`, `nn.BatchNorm2d` on `[N, C, H, W]`; tensors `[C]`). `rnn`, `gru`
/// and `lstm` are PyTorch's one-layer `nn.RNN`, `nn.GRU`, `nn.LSTM` (tensors `weight_ih_l0`,
/// `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`); `dense` and `layer_norm` on a sequence apply
/// per step; a network that ends on a sequence has one output per step (see "Recurrent
/// networks"). `conv1d`/`conv2d` are PyTorch's `nn.Conv1d`/`nn.Conv2d` (weight `[out, in, k]` /
/// `[out, in, kh, kw]`, zero padding, `same` with stride 1); on a sequence a `conv1d` is
/// `causal` (PyTorch's `nn.Conv1d` with `(K−1)·D` zeros before the start only, stride 1, its
/// streaming state the last `(K−1)·D` inputs); pools default their stride to the
/// kernel; a feature map flows into a dense layer flattened in C×H×W order ([`conv`] has the
/// layout). A residual is added after the activation. Losses are means over the batch; the
/// cross-entropy losses take logits (the last layer has no activation). Without a `loss:` entry
/// the network is inference-only: `forward`, `predict` (= `forward`) and their batch forms,
/// its parameters, weight files and `embed!`, and no training methods (using one is a compile
/// error saying so). Every shape mistake is a compile error at the offending token. The
/// [crate documentation](crate) ("The declaration", "Convolutional networks", "What is
/// generated") has the details. Every network also has `input_gradient` (`∂L/∂x`, reverse
/// mode) and runs over dual numbers for forward-mode derivatives ([`dual`], "Forward-mode
/// derivatives").
///
/// # Examples
///
/// ```
/// use nn_runtime::nalgebra::SVector;
/// use nn_runtime::Parameters;
///
/// nn_runtime::network! {
///     /// Two inputs, a residual hidden layer, one output.
///     pub struct Small {
///         input: 2,
///         h1: dense(4, tanh),
///         h2: dense(4, relu) + h1,
///         out: dense(1),
///         loss: mse,
///     }
/// }
///
/// let mut net = Small::<f64>::zeros();
/// net.out.bias[0] = 0.5;
/// let x = SVector::from([1.0, -1.0]);
/// // All weights are 0: every hidden value is 0 and the output is the bias.
/// assert_eq!(net.forward(&x)[0], 0.5);
/// assert_eq!(Small::<f64>::PARAM_COUNT, (4 * 2 + 4) + (4 * 4 + 4) + (4 + 1));
///
/// // One step of plain SGD towards the target 1: the loss goes down.
/// let y = SVector::from([1.0]);
/// let before = net.sgd_step(&x, &y, 0.1);
/// assert!(net.loss(&x, &y) < before);
/// ```
pub use nn_macros::network;

/// Embeds a trained weights file into the binary as a `static` network, checked against the
/// network during compilation.
///
/// ```text
/// embed! { attr* vis static NAME: Network<f32> = "path/to/weights.safetensors"; … }
/// ```
///
/// The path is relative to the source file that invokes the macro, as for `include_bytes!`;
/// an absolute path works too. The file is a
/// safetensors file as [`io::save`] writes it (PyTorch names, shapes and layouts; see
/// [`io`]). The macro reads it when the crate compiles and writes its tensors into the
/// binary; cargo tracks the file, so editing it rebuilds the crate.
///
/// At run time the static is ready: no file I/O, no parsing, no allocation. At compile time
/// the file must hold exactly the network's tensors, each with the network's shape and scalar
/// (`F32` for `Net<f32>`, `F64` for `Net<f64>`; nothing is converted). Anything else is a
/// compile error naming the file, the tensor and both shapes:
///
/// ```text
/// error[E0080]: evaluation panicked: weights file `digits.safetensors`: tensor `h1.weight`
///               has shape [100, 64] but `Digits<f32>` expects [128, 64]
/// ```
///
/// and so are a missing file, one that is not safetensors, and tensors of another dtype.
///
/// # Examples
///
/// ```
/// use nn_runtime::nalgebra::SVector;
///
/// nn_runtime::network! {
///     pub struct Tiny {
///         input: 2,
///         h1: dense(4, relu),
///         out: dense(1),
///         loss: mse,
///     }
/// }
///
/// nn_runtime::embed! {
///     /// Tiny, trained (the path is relative to this source file, `nn-runtime/src/lib.rs`).
///     pub static MODEL: Tiny<f32> = "../../tests/fixtures/embed/tiny.safetensors";
/// }
///
/// let y = MODEL.predict(&SVector::from([1.0, -1.0]));
/// let loaded: Box<Tiny<f32>> =
///     nn_runtime::io::load_boxed("../tests/fixtures/embed/tiny.safetensors").unwrap();
/// assert_eq!(y, loaded.predict(&SVector::from([1.0, -1.0])));
/// ```
pub use nn_macros::embed;

/// What generated code names. Not a public API: it changes without notice.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
