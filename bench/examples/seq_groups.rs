//! Whether `SequenceDataset::batch_path` pays: for a group of `B` equal-length sequences, the
//! time of running each alone (`backward`, `forward`) against one batch (`backward_batch`,
//! `forward_batch`), for the networks of `examples/motions` and `examples/vowels` and two wider
//! cells. f32, one thread, best of 5 rounds; the ratio is alone ÷ batch (above 1: the batch path
//! is faster). For the reading in BENCHMARKS.md.
//!
//! `cargo run --profile bench -p nn-bench --example seq_groups`

use std::hint::black_box;
use std::time::Instant;

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Init, SequenceNetwork};

nn_runtime::network! {
    /// `examples/motions`' network.
    pub struct Motions {
        input: seq(6),
        r1: gru(32),
        pool: mean,
        out: dense(4),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// `examples/vowels`' network.
    pub struct Vowels {
        input: seq(12),
        r1: gru(48),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// A wider GRU.
    pub struct Gru128 {
        input: seq(12),
        r1: gru(128),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// A wide LSTM.
    pub struct Lstm256 {
        input: seq(12),
        r1: lstm(256),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

/// The best time of 5 rounds of `reps` calls of `f`, per call, in µs.
fn best_us(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() / reps as f64 * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

fn groups<N, const F: usize, const C: usize>(name: &str, steps: usize, sizes: &[usize])
where
    N: SequenceNetwork<f32, F, C, Target = SVector<f32, C>, BatchTarget = Batch<f32, C>>,
{
    let net: Box<N> = Init::default().seed(1).build().expect("initializes");
    let mut grad = N::boxed_zeros();
    let target = nn_runtime::one_hot::<f32, C>(1);
    for &b in sizes {
        let sequences: Vec<Vec<SVector<f32, F>>> = (0..b)
            .map(|j| {
                (0..steps)
                    .map(|t| SVector::from_fn(|r, _| ((r + 7 * t + 13 * j) as f32 * 0.37).sin()))
                    .collect()
            })
            .collect();
        let x: Vec<Batch<f32, F>> = (0..steps)
            .map(|t| Batch::from_fn(b, |r, c| sequences[c][t][r]))
            .collect();
        let targets = Batch::<f32, C>::from_fn(b, |r, _| target[r]);
        let reps = (400 / b).max(2);
        let backward_alone = best_us(reps, || {
            for s in &sequences {
                black_box(net.backward(s, &target, &mut grad));
            }
        });
        let backward_batch = best_us(reps, || {
            black_box(net.backward_batch(&x, &targets, &mut grad));
        });
        let forward_alone = best_us(reps, || {
            for s in &sequences {
                black_box(net.forward(s));
            }
        });
        let forward_batch = best_us(reps, || {
            black_box(net.forward_batch(&x));
        });
        println!(
            "| {name} | {steps} | {b} | {backward_alone:.0} | {backward_batch:.0} | {:.2} | \
             {forward_alone:.0} | {forward_batch:.0} | {:.2} |",
            backward_alone / backward_batch,
            forward_alone / forward_batch
        );
    }
}

fn main() {
    nn_bench::single_thread();
    println!(
        "| network | steps | B | backward alone µs | backward_batch µs | ratio | forward alone µs \
         | forward_batch µs | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    groups::<Motions<f32>, 6, 4>("motions gru(32)", 100, &[4, 16, 64]);
    groups::<Vowels<f32>, 12, 9>("vowels gru(48)", 15, &[4, 16, 64, 256]);
    groups::<Gru128<f32>, 12, 9>("gru(128)", 30, &[4, 16, 64]);
    groups::<Lstm256<f32>, 12, 9>("lstm(256)", 30, &[4, 16, 64]);
}
