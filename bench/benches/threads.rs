//! The rayon question: does `TrainConfig::threads: 2` (each minibatch's gradient split over a
//! pool) make `nn_runtime::train::fit` faster than `threads: 1`? One epoch over 4096 synthetic
//! samples, batch 32 and 256, both networks, SGD.
//!
//! With `--features mm-threading` (and `MATMUL_NUM_THREADS=2`), the same runs with `threads: 1`
//! but matrixmultiply's own threading inside every GEMM, recorded as `gemm_threads/2`.
//!
//! Two measurements per configuration: `fit_epoch` times the whole `fit` call (the steps plus
//! the evaluation of the training set that `fit` runs after every epoch, which is
//! single-threaded), and `fit_steps` only the steps (`EpochStats::elapsed`).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use nn_bench::nets::{self, Digits, Mnist};
use nn_bench::{DIGITS, Data, MNIST, Params};
use nn_runtime::data::Dataset;
use nn_runtime::optim::{Sgd, SgdConfig};
use nn_runtime::train::{TrainConfig, fit};

const SAMPLES: usize = 4096;

fn config(batch_size: usize, threads: usize) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size,
        seed: 0,
        early_stopping: None,
        progress: false,
        threads,
    }
}

macro_rules! bench_fit {
    ($c:expr, $shape:expr, $net:ty, $i:literal, $o:literal) => {{
        let c: &mut Criterion = $c;
        let shape = $shape;
        let data = Data::random(shape, SAMPLES, 3);
        let train = Dataset::<f32, $i, $o>::classification(&data.rows(), &data.labels).unwrap();
        let params = Params::random(shape, 1);
        for batch in [32, 256] {
            for (group, steps_only) in [("fit_epoch", false), ("fit_steps", true)] {
                let mut g = c.benchmark_group(format!("{}_{group}_b{batch}", shape.name));
                // 20 runs of `fit` per point: a 2-thread run depends on the second core being
                // free, and fewer samples left its figures noisy (±10% between runs).
                g.sample_size(20)
                    .warm_up_time(Duration::from_secs(1))
                    .measurement_time(Duration::from_secs(if shape.input > 100 { 15 } else { 5 }));
                let variants: &[(usize, &str)] = if cfg!(feature = "mm-threading") {
                    &[(1, "gemm_threads/2")]
                } else {
                    &[(1, "threads/1"), (2, "threads/2")]
                };
                for &(threads, id) in variants {
                    let mut net: Box<$net> = nets::load(&params);
                    let mut sgd = Sgd::<f32, $net>::new(SgdConfig {
                        lr: 0.01,
                        ..SgdConfig::default()
                    });
                    let cfg = config(batch, threads);
                    g.bench_function(id, |b| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                let started = std::time::Instant::now();
                                let history = fit(&mut *net, &mut sgd, &train, None, &cfg).unwrap();
                                let whole = started.elapsed();
                                total += if steps_only {
                                    history.epochs[0].elapsed
                                } else {
                                    whole
                                };
                                black_box(history);
                            }
                            total
                        })
                    });
                }
                g.finish();
            }
        }
    }};
}

fn main() {
    if cfg!(feature = "mm-threading") {
        assert_eq!(
            std::env::var("MATMUL_NUM_THREADS").as_deref(),
            Ok("2"),
            "run the mm-threading variant with MATMUL_NUM_THREADS=2"
        );
    }
    let mut c = Criterion::default().configure_from_args();
    bench_fit!(&mut c, DIGITS, Digits<f32>, 64, 10);
    bench_fit!(&mut c, MNIST, Mnist<f32>, 784, 10);
    c.final_summary();
}
