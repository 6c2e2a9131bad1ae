//! The training loop: epochs of seeded, shuffled minibatches, metrics per epoch, optional
//! early stopping, and a guard that stops on a NaN or infinite loss before it reaches the
//! weights.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::Real;
use crate::data::Dataset;
use crate::linalg::{Batch, PARALLEL_MIN_MACS};
use crate::loss::LossKind;
use crate::network::{Network, Parameters};
use crate::optim::Optimizer;

/// How to train: epochs, minibatch size, the shuffling seed, early stopping, progress.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per gradient step (the last step of an epoch may have fewer).
    pub batch_size: usize,
    /// Seed of the per-epoch shuffles: the same seed gives the same run.
    pub seed: u64,
    /// Stop when the monitored loss stops improving, and keep the best weights.
    pub early_stopping: Option<EarlyStopping>,
    /// Show a progress bar on a terminal (it stays hidden when stderr is not a terminal).
    pub progress: bool,
    /// Threads for the large matrix products of each step and of the evaluation (a rayon
    /// pool of this size; see [`linalg`](crate::linalg#threads)): 1 runs everything on the
    /// calling thread, 0 uses every core. Products under [`PARALLEL_MIN_MACS`] multiply-adds
    /// stay on one thread, and a step none of whose products is that large runs on the calling
    /// thread without visiting the pool (a hand-off costs tens of microseconds).
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            seed: 0,
            early_stopping: None,
            progress: true,
            threads: 1,
        }
    }
}

/// Early stopping on the validation loss (the training loss when there is no validation set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without an improvement of more than `min_delta` before stopping.
    pub patience: usize,
    /// The smallest decrease of the loss that counts as an improvement.
    pub min_delta: f64,
}

/// Loss and accuracy of a network on a dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// The mean loss.
    pub loss: f64,
    /// Fraction classified correctly: argmax for `softmax_cross_entropy`, each label thresholded
    /// at ½ for `binary_cross_entropy`; `None` for `mse`.
    pub accuracy: Option<f64>,
}

/// What one epoch achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Metrics on the training data after the epoch.
    pub train: Metrics,
    /// Metrics on the validation data after the epoch, if any.
    pub validation: Option<Metrics>,
    /// The optimizer's learning rate after the epoch.
    pub learning_rate: f64,
    /// Wall time of the epoch's steps (without the evaluation).
    pub elapsed: Duration,
}

/// The record of a run, returned to the caller.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochStats>,
    /// The epoch (from 1) whose weights the network holds at the end: the best one under early
    /// stopping, else the last.
    pub best_epoch: usize,
    /// Whether early stopping ended the run before `epochs`.
    pub stopped_early: bool,
}

/// Why training stopped with an error. The network keeps the weights from before the failing
/// step: a bad step never reaches them.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The loss of a minibatch was NaN or infinite.
    NonFiniteLoss {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// A gradient held a NaN or an infinity.
    NonFiniteGradient {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The tensor (`h1.weight`).
        tensor: &'static str,
    },
    /// The training data has no samples.
    EmptyDataset,
    /// `batch_size` is zero.
    ZeroBatchSize,
    /// The thread pool for `threads` could not be started.
    ThreadPool(alloc::string::String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFiniteLoss { epoch, step, loss } => write!(
                f,
                "the loss became {loss} at epoch {epoch}, step {step}; training stopped and the \
                 weights from before that step were kept (lower the learning rate or check the data)"
            ),
            TrainError::NonFiniteGradient {
                epoch,
                step,
                tensor,
            } => write!(
                f,
                "the gradient of `{tensor}` became NaN or infinite at epoch {epoch}, step {step}; \
                 training stopped and the weights from before that step were kept"
            ),
            TrainError::EmptyDataset => write!(f, "the training data has no samples"),
            TrainError::ZeroBatchSize => write!(f, "the batch size must be at least 1"),
            TrainError::ThreadPool(reason) => {
                write!(f, "cannot start the training threads: {reason}")
            }
        }
    }
}

impl std::error::Error for TrainError {}

/// Trains `net` on `train` with `optimizer`, evaluating on `validation` after every epoch.
///
/// Each epoch shuffles the samples with a generator seeded from `config.seed` and the epoch,
/// then takes one optimizer step per minibatch on the gradient of the minibatch's mean loss.
/// Returns the history; on a NaN or infinite loss or gradient, returns an error naming the
/// epoch and step, with the network as it was before that step.
pub fn fit<T, N, O, const IN: usize, const OUT: usize>(
    net: &mut N,
    optimizer: &mut O,
    train: &Dataset<T, IN, OUT>,
    validation: Option<&Dataset<T, IN, OUT>>,
    config: &TrainConfig,
) -> Result<History, TrainError>
where
    T: Real,
    N: Network<T, IN, OUT> + Send + Sync,
    O: Optimizer<T, N>,
{
    if train.is_empty() {
        return Err(TrainError::EmptyDataset);
    }
    if config.batch_size == 0 {
        return Err(TrainError::ZeroBatchSize);
    }
    let steps = train.len().div_ceil(config.batch_size);
    let progress = progress_bar(config, steps);
    let mut grad = N::boxed_zeros();
    let pool = thread_pool(config.threads)?;
    // Handing a step to the pool costs tens of microseconds; skip it when no product of a
    // step is large enough to split.
    let step_pool = pool
        .as_ref()
        .filter(|_| largest_weight::<T, N>() * config.batch_size >= PARALLEL_MIN_MACS);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = History::default();
    let mut best: Option<(f64, Box<N>)> = None;
    let mut since_best = 0;

    for epoch in 1..=config.epochs {
        let started = Instant::now();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            config.seed.wrapping_add(epoch as u64),
        ));
        for (step, indices) in order.chunks(config.batch_size).enumerate() {
            let step = step + 1;
            let x: Batch<T, IN> = train.inputs.select_columns(indices);
            let y: Batch<T, OUT> = train.targets.select_columns(indices);
            let loss = in_pool(step_pool, || {
                grad.fill(T::zero());
                net.backward_batch(&x, &y, &mut grad)
            })
            .to_f64();
            if !loss.is_finite() {
                progress.abandon();
                return Err(TrainError::NonFiniteLoss { epoch, step, loss });
            }
            if let Some(tensor) = non_finite_tensor(&*grad) {
                progress.abandon();
                return Err(TrainError::NonFiniteGradient {
                    epoch,
                    step,
                    tensor,
                });
            }
            optimizer.step(net, &grad);
            progress.inc(1);
        }
        let elapsed = started.elapsed();
        let stats = EpochStats {
            epoch,
            train: in_pool(pool.as_ref(), || evaluate(net, train)),
            validation: validation.map(|v| in_pool(pool.as_ref(), || evaluate(net, v))),
            learning_rate: optimizer.learning_rate().to_f64(),
            elapsed,
        };
        progress.set_message(summary(&stats));
        history.best_epoch = epoch;
        let monitored = stats.validation.unwrap_or(stats.train).loss;
        history.epochs.push(stats);

        if let Some(stopping) = config.early_stopping {
            match &mut best {
                Some((best_loss, weights)) if monitored >= *best_loss - stopping.min_delta => {
                    since_best += 1;
                    history.best_epoch = epoch - since_best;
                    if since_best >= stopping.patience {
                        net.copy_from(weights);
                        history.stopped_early = epoch < config.epochs;
                        break;
                    }
                }
                Some((best_loss, weights)) => {
                    *best_loss = monitored;
                    weights.copy_from(net);
                    since_best = 0;
                }
                None => best = Some((monitored, net.boxed_copy())),
            }
        }
    }
    if let (Some((_, weights)), false) = (&best, history.stopped_early)
        && since_best > 0
    {
        net.copy_from(weights);
    }
    progress.finish();
    Ok(history)
}

/// The rayon pool for `threads` (0: one per core), or `None` for one thread.
fn thread_pool(threads: usize) -> Result<Option<rayon::ThreadPool>, TrainError> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    if threads < 2 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map(Some)
        .map_err(|e| TrainError::ThreadPool(alloc::format!("{e}")))
}

/// The most scalars in one tensor of `N`: a product with a batch of `b` columns through it is
/// at most `b` times that many multiply-adds.
fn largest_weight<T: Real, N: Parameters<T>>() -> usize {
    N::TENSORS
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .max()
        .unwrap_or(0)
}

/// Runs `f` inside `pool` (where the large products split over its threads), or right here.
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Loss and accuracy of `net` on `data`, in chunks of 1024 samples.
pub fn evaluate<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    data: &Dataset<T, IN, OUT>,
) -> Metrics
where
    T: Real,
    N: Network<T, IN, OUT>,
{
    const CHUNK: usize = 1024;
    let (mut loss, mut correct, mut counted) = (0.0, 0usize, 0usize);
    let mut start = 0;
    while start < data.len() {
        let n = CHUNK.min(data.len() - start);
        let x = data.inputs.columns(start, n).into_owned();
        let y = data.targets.columns(start, n).into_owned();
        let output = net.forward_batch(&x);
        loss += loss_of(N::LOSS, &output, &y) * n as f64;
        let (c, k) = correct_count(N::LOSS, &output, &y);
        correct += c;
        counted += k;
        start += n;
    }
    let accuracy =
        (N::LOSS != LossKind::Mse && counted > 0).then(|| correct as f64 / counted as f64);
    Metrics {
        loss: loss / data.len().max(1) as f64,
        accuracy,
    }
}

fn loss_of<T: Real, const OUT: usize>(
    kind: LossKind,
    output: &Batch<T, OUT>,
    target: &Batch<T, OUT>,
) -> f64 {
    use crate::loss;
    match kind {
        LossKind::Mse => loss::mse(output, target),
        LossKind::BinaryCrossEntropy => loss::binary_cross_entropy(output, target),
        LossKind::SoftmaxCrossEntropy => loss::softmax_cross_entropy(output, target),
    }
    .to_f64()
}

/// `(correct, counted)`: samples by argmax, or labels by sign of the logit.
fn correct_count<T: Real, const OUT: usize>(
    kind: LossKind,
    output: &Batch<T, OUT>,
    target: &Batch<T, OUT>,
) -> (usize, usize) {
    match kind {
        LossKind::Mse => (0, 0),
        LossKind::SoftmaxCrossEntropy => {
            let correct = output
                .column_iter()
                .zip(target.column_iter())
                .filter(|(o, t)| o.argmax().0 == t.argmax().0)
                .count();
            (correct, output.ncols())
        }
        LossKind::BinaryCrossEntropy => {
            let half = T::constant(0.5);
            let correct = output
                .iter()
                .zip(target.iter())
                .filter(|(o, t)| (**o > T::zero()) == (**t > half))
                .count();
            (correct, output.len())
        }
    }
}

fn non_finite_tensor<T: Real, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    grad: &N,
) -> Option<&'static str> {
    N::TENSORS
        .iter()
        .enumerate()
        .find(|(i, _)| grad.tensor(*i).iter().any(|g| !g.is_finite()))
        .map(|(_, info)| info.name)
}

fn progress_bar(config: &TrainConfig, steps: usize) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    // `ProgressBar::new` draws to stderr only when it is a terminal.
    let bar = ProgressBar::new((steps * config.epochs) as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} steps, {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// `epoch 3: loss 0.1234 acc 0.9650 | val loss 0.1500 acc 0.9600`
pub fn summary(stats: &EpochStats) -> alloc::string::String {
    let metrics = |m: &Metrics| match m.accuracy {
        Some(accuracy) => alloc::format!("loss {:.4} acc {:.4}", m.loss, accuracy),
        None => alloc::format!("loss {:.4}", m.loss),
    };
    let mut text = alloc::format!("epoch {}: {}", stats.epoch, metrics(&stats.train));
    if let Some(validation) = &stats.validation {
        text += &alloc::format!(" | val {}", metrics(validation));
    }
    text
}
