//! Training on sequences of mixed lengths through `fit_data` with `SequenceDataset::batch_path`:
//! a minibatch runs its sequences of equal length together through the batch path
//! (`backward_batch`) and the rest one by one, and its gradient and loss are still the mean of
//! the per-sequence ones; evaluation batches by length the same way; a run is reproducible from
//! its seed.

use std::borrow::Borrow;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig};
use nn_runtime::recurrent::SequenceDataset;
use nn_runtime::train::{EpochStats, Metrics, TrainConfig, TrainingData, fit_data};
use nn_runtime::{Parameters, SequenceNetwork, Training, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sequence_gradients.rs"]
mod gradients;
use gradients::randomize;

/// Largest accepted difference, relative to `max(1, |value|)`, between the grouped result and
/// the per-sequence mean in f64: the two differ only in the order of their sums (measured: a
/// few 1e-16); a sequence run with another's length, or a group weighted wrongly, errs by O(1).
const SUMMATION_TOLERANCE: f64 = 1e-12;

/// The lengths of the test sequences: three of 4 steps, two of 7, one each of 1 and 9, so a
/// minibatch of all of them has two groups for the batch path and two sequences alone.
const LENGTHS: [usize; 7] = [4, 7, 4, 1, 7, 4, 9];

/// Every sequence, in an order that interleaves the lengths.
const MINIBATCH: [usize; 7] = [3, 0, 5, 1, 6, 2, 4];

network! {
    /// Stacked cells with a residual, sequence to one.
    pub struct Speaker {
        input: seq(3),
        r1: gru(5),
        r2: lstm(5) + r1,
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// An Elman cell under a mean over time, regression.
    pub struct Smoother {
        input: seq(2),
        r1: rnn(4),
        pool: mean,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// Sequence to sequence, one binary label per step.
    pub struct Tagger {
        input: seq(2),
        r1: lstm(4),
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

fn vector<const N: usize>(rng: &mut StdRng) -> SVector<f64, N> {
    SVector::from_fn(|_, _| rng.random_range(-1.0..1.0))
}

fn sequences<const N: usize>(rng: &mut StdRng, lengths: &[usize]) -> Vec<Vec<SVector<f64, N>>> {
    lengths
        .iter()
        .map(|&len| (0..len).map(|_| vector(rng)).collect())
        .collect()
}

fn speakers(rng: &mut StdRng) -> SequenceDataset<f64, 3, 3> {
    let labels: Vec<usize> = LENGTHS.iter().map(|_| rng.random_range(0..3)).collect();
    SequenceDataset::classification(sequences(rng, &LENGTHS), &labels).expect("valid")
}

fn smoothings(rng: &mut StdRng) -> SequenceDataset<f64, 2, 2> {
    let x = sequences(rng, &LENGTHS);
    let y = LENGTHS.iter().map(|_| vector(rng)).collect();
    SequenceDataset::new(x, y).expect("valid")
}

fn tags(rng: &mut StdRng) -> SequenceDataset<f64, 2, 2, Vec<SVector<f64, 2>>> {
    let x = sequences(rng, &LENGTHS);
    let y = LENGTHS
        .iter()
        .map(|&len| {
            (0..len)
                .map(|_| SVector::from_fn(|_, _| f64::from(u8::from(rng.random_bool(0.5)))))
                .collect()
        })
        .collect();
    SequenceDataset::new(x, y).expect("valid")
}

fn assert_close(what: &str, got: f64, expected: f64) {
    assert!(
        (got - expected).abs() <= SUMMATION_TOLERANCE * expected.abs().max(1.0),
        "{what}: {got} against {expected}"
    );
}

/// `data.backward` over `indices` equals the mean of `net.backward` over each sequence alone.
fn assert_minibatch_is_the_mean<N, Y, const IN: usize, const OUT: usize>(
    net: &mut N,
    data: &SequenceDataset<f64, IN, OUT, Y>,
    indices: &[usize],
) where
    N: SequenceNetwork<f64, IN, OUT>,
    SequenceDataset<f64, IN, OUT, Y>: TrainingData<f64, N>,
    Y: Borrow<N::Target>,
{
    let mut minibatch = N::boxed_zeros();
    let loss = data.backward(net, indices, &mut minibatch, &mut Training::seeded(0));
    let mut sum = N::boxed_zeros();
    let mut total = 0.0;
    for &i in indices {
        total += net.backward(&data.sequences[i], data.targets[i].borrow(), &mut sum);
    }
    let n = indices.len() as f64;
    assert_close("loss", loss, total / n);
    for (t, tensor) in N::TENSORS.iter().enumerate() {
        for (k, (&b, &s)) in minibatch.tensor(t).iter().zip(sum.tensor(t)).enumerate() {
            assert_close(&format!("{}[{k}]", tensor.name), b, s / n);
        }
    }
}

/// With the batch path from 2 sequences: mixed lengths (two groups through the batch path, two
/// sequences alone), a minibatch of one length (one batch), and a minibatch whose lengths all
/// differ (no batch at all). From 3: the group of two runs alone, the group of three as a batch.
/// And without it (the default), every sequence alone.
fn assert_every_grouping_is_the_mean<N, Y, const IN: usize, const OUT: usize>(
    net: &mut N,
    data: SequenceDataset<f64, IN, OUT, Y>,
) where
    N: SequenceNetwork<f64, IN, OUT>,
    SequenceDataset<f64, IN, OUT, Y>: TrainingData<f64, N>,
    Y: Borrow<N::Target> + Clone,
{
    assert_minibatch_is_the_mean(net, &data, &MINIBATCH);
    let batched = data.clone().batch_path(2);
    assert_minibatch_is_the_mean(net, &batched, &MINIBATCH);
    assert_minibatch_is_the_mean(net, &batched, &[5, 0, 2]);
    assert_minibatch_is_the_mean(net, &batched, &[6, 3, 0, 1]);
    assert_minibatch_is_the_mean(net, &data.batch_path(3), &MINIBATCH);
}

#[test]
fn a_mixed_length_minibatch_gradient_is_the_mean_of_the_per_sequence_gradients() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut speaker = Speaker::<f64>::boxed_zeros();
    randomize(&mut *speaker, &mut rng);
    assert_every_grouping_is_the_mean(&mut *speaker, speakers(&mut rng));

    let mut smoother = Smoother::<f64>::boxed_zeros();
    randomize(&mut *smoother, &mut rng);
    assert_every_grouping_is_the_mean(&mut *smoother, smoothings(&mut rng));
}

#[test]
fn a_mixed_length_sequence_to_sequence_minibatch_is_the_mean_too() {
    let mut rng = StdRng::seed_from_u64(22);
    let mut tagger = Tagger::<f64>::boxed_zeros();
    randomize(&mut *tagger, &mut rng);
    assert_every_grouping_is_the_mean(&mut *tagger, tags(&mut rng));
}

/// `evaluate` with the batch path batches the set by length; its loss is still the mean of the per-sequence losses
/// and its accuracy the fraction of sequences (or, per step, of labels) classified correctly.
#[test]
fn evaluation_by_length_is_the_per_sequence_mean() {
    let mut rng = StdRng::seed_from_u64(23);

    let mut speaker = Speaker::<f64>::boxed_zeros();
    randomize(&mut *speaker, &mut rng);
    let data = speakers(&mut rng).batch_path(2);
    let metrics = data.evaluate(&*speaker);
    let (mut loss, mut correct) = (0.0, 0);
    for (x, y) in data.sequences.iter().zip(&data.targets) {
        loss += speaker.loss(x, y);
        correct += usize::from(speaker.forward(x).argmax().0 == y.argmax().0);
    }
    assert_close("speaker loss", metrics.loss, loss / data.len() as f64);
    assert_eq!(
        metrics.accuracy,
        Some(correct as f64 / data.len() as f64),
        "speaker accuracy"
    );

    let mut smoother = Smoother::<f64>::boxed_zeros();
    randomize(&mut *smoother, &mut rng);
    let data = smoothings(&mut rng).batch_path(2);
    let metrics = data.evaluate(&*smoother);
    let loss: f64 = data
        .sequences
        .iter()
        .zip(&data.targets)
        .map(|(x, y)| smoother.loss(x, y))
        .sum();
    assert_close("smoother loss", metrics.loss, loss / data.len() as f64);
    assert_eq!(metrics.accuracy, None, "mse has no accuracy");

    let mut tagger = Tagger::<f64>::boxed_zeros();
    randomize(&mut *tagger, &mut rng);
    let data = tags(&mut rng).batch_path(2);
    let metrics = data.evaluate(&*tagger);
    let (mut loss, mut correct, mut labels) = (0.0, 0, 0);
    for (x, y) in data.sequences.iter().zip(&data.targets) {
        loss += tagger.loss(x, y);
        for (output, target) in tagger.forward(x).iter().zip(y) {
            for (o, t) in output.iter().zip(target) {
                correct += usize::from((*o > 0.0) == (*t > 0.5));
                labels += 1;
            }
        }
    }
    assert_close("tagger loss", metrics.loss, loss / data.len() as f64);
    assert_eq!(
        metrics.accuracy,
        Some(correct as f64 / labels as f64),
        "tagger accuracy"
    );
}

/// What a run records per epoch, without its wall time: training and validation metrics.
fn metrics(epochs: &[EpochStats]) -> Vec<(Metrics, Metrics)> {
    epochs
        .iter()
        .map(|stats| (stats.train, stats.validation.expect("a validation set")))
        .collect()
}

/// Two runs with one seed give the same history and bit-identical weights; another seed gives
/// another run. The lengths are mixed so that minibatches take both paths.
#[test]
fn a_fit_data_run_on_mixed_lengths_is_reproducible_from_its_seed() {
    let mut rng = StdRng::seed_from_u64(24);
    let lengths: Vec<usize> = (0..48).map(|_| rng.random_range(3..7)).collect();
    let labels: Vec<usize> = (0..48).map(|_| rng.random_range(0..3)).collect();
    let to_f32 = |set: Vec<Vec<SVector<f64, 3>>>| -> Vec<Vec<SVector<f32, 3>>> {
        set.into_iter()
            .map(|s| s.iter().map(|x| x.cast()).collect())
            .collect()
    };
    let x = to_f32(sequences(&mut rng, &lengths));
    let train = SequenceDataset::<f32, 3, 3>::classification(x[..32].to_vec(), &labels[..32])
        .expect("valid")
        .batch_path(2);
    let validation = SequenceDataset::<f32, 3, 3>::classification(x[32..].to_vec(), &labels[32..])
        .expect("valid")
        .batch_path(2);
    let run = |seed: u64| {
        let mut net: Box<Speaker<f32>> = nn_runtime::Init::default().seed(5).build().expect("init");
        let mut adam = Adam::new(AdamConfig {
            lr: 0.01,
            ..Default::default()
        })
        .expect("config");
        let config = TrainConfig {
            epochs: 4,
            batch_size: 8,
            seed,
            progress: false,
            ..Default::default()
        };
        let history =
            fit_data(&mut *net, &mut adam, &train, Some(&validation), &config).expect("trains");
        let weights: Vec<Vec<f32>> = (0..Speaker::<f32>::TENSORS.len())
            .map(|t| net.tensor(t).to_vec())
            .collect();
        (metrics(&history.epochs), weights)
    };
    let (first, weights) = run(3);
    assert_eq!(first.len(), 4);
    assert!(
        first[3].0.loss < first[0].0.loss,
        "training lowers the loss: {first:?}"
    );
    let (again, weights_again) = run(3);
    assert_eq!(first, again, "same seed, same history");
    assert!(weights == weights_again, "same seed, same weights");
    let (other, _) = run(4);
    assert_ne!(first, other, "the seed orders the minibatches");
}
