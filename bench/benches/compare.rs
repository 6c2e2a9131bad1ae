//! nn against a hand-written matrixmultiply version, candle and dfdx, in one run: per-sample
//! forward and forward+backward, and the same at batch 128, for the digits-shaped MLP
//! (64-128-128-10, residual) and the MNIST MLP (784-512-512-10). Single-threaded, f32.
//!
//! `cargo bench --bench compare`, then `cargo run --release --bin table` for the table.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use nn_bench::candle_impl::{self, CandleNet};
use nn_bench::dfdx_impl::{DfdxDigits, DfdxMnist};
use nn_bench::hand::{Backend, Hand, Layout, Loops, Scratch};
use nn_bench::nets::{self, Digits, Mnist};
use nn_bench::{DIGITS, Data, MNIST, Params};
use nn_runtime::Parameters;

/// Samples the per-sample benchmarks cycle through.
const SAMPLES: usize = 64;
/// The batch size of the batch benchmarks.
const BATCH: usize = 128;

macro_rules! bench_network {
    ($c:expr, $shape:expr, $net:ty, $dfdx:ty, $i:literal, $o:literal) => {{
        let c: &mut Criterion = $c;
        let shape = $shape;
        let params = Params::random(shape, 1);
        let data = Data::random(shape, BATCH.max(SAMPLES), 2);
        let name = shape.name;

        let net: Box<$net> = nets::load(&params);
        // nn's layout (column-major weights); the row-major variant runs at batch 128 only.
        let hand = Hand::new(&params, Layout::ColMajor);
        let hand_rows = Hand::new(&params, Layout::RowMajor);
        // The same code on the `gemm` crate (candle's GEMM, with AVX-512 kernels).
        let hand_gc = Hand::with_backend(&params, Layout::ColMajor, Backend::GemmCrate);
        let loops = Loops::new(&params);
        let candle = CandleNet::new(&params).unwrap();
        let mut dfdx = <$dfdx>::new(&params);

        let nn_samples: Vec<_> = (0..SAMPLES)
            .map(|k| nets::sample::<$i, $o>(&data, k))
            .collect();
        let candle_samples: Vec<_> = (0..SAMPLES)
            .map(|k| candle_impl::batch(&data, k, 1).unwrap())
            .collect();
        let dfdx_samples: Vec<_> = (0..SAMPLES).map(|k| dfdx.sample(&data, k)).collect();
        let (nn_x, nn_y) = nets::batch::<$i, $o>(&data, 0, BATCH);
        let (candle_x, candle_y) = candle_impl::batch(&data, 0, BATCH).unwrap();
        let (dfdx_x, dfdx_y) = dfdx.batch(&data, 0, BATCH);
        let mut scratch = Scratch::new(shape, BATCH);

        // 1. One sample: forward.
        {
            let mut g = c.benchmark_group(format!("{name}_sample_forward"));
            let mut k = 0;
            g.bench_function("nn", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(net.forward(black_box(&nn_samples[k].0)))
                })
            });
            g.bench_function("hand_sgemm", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    hand.forward(black_box(data.sample(k)), 1, &mut scratch);
                    black_box(scratch.logits(shape, 1)[0])
                })
            });
            g.bench_function("hand_gemm_crate", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    hand_gc.forward(black_box(data.sample(k)), 1, &mut scratch);
                    black_box(scratch.logits(shape, 1)[0])
                })
            });
            g.bench_function("hand_loops", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    loops.forward(black_box(data.sample(k)), &mut scratch);
                    black_box(scratch.logits(shape, 1)[0])
                })
            });
            g.bench_function("hand_loops_avx2", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    loops.forward_avx2(black_box(data.sample(k)), &mut scratch);
                    black_box(scratch.logits(shape, 1)[0])
                })
            });
            g.bench_function("candle", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(candle.forward(black_box(&candle_samples[k].0)).unwrap())
                })
            });
            g.bench_function("dfdx", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(dfdx.forward_sample(black_box(&dfdx_samples[k].0)))
                })
            });
            g.finish();
        }

        // 2. One sample: forward + backward, the gradient accumulated.
        {
            let mut g = c.benchmark_group(format!("{name}_sample_backward"));
            let mut k = 0;
            let mut grad = <$net>::boxed_zeros();
            g.bench_function("nn", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    let (x, y) = &nn_samples[k];
                    black_box(net.backward(black_box(x), y, &mut grad))
                })
            });
            let mut hg = hand.zero_grad();
            g.bench_function("hand_sgemm", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(hand.backward(
                        black_box(data.sample(k)),
                        data.target(k),
                        1,
                        &mut hg,
                        &mut scratch,
                    ))
                })
            });
            let mut gg = hand_gc.zero_grad();
            g.bench_function("hand_gemm_crate", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(hand_gc.backward(
                        black_box(data.sample(k)),
                        data.target(k),
                        1,
                        &mut gg,
                        &mut scratch,
                    ))
                })
            });
            let mut lg = loops.zero_grad();
            g.bench_function("hand_loops", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(loops.backward(
                        black_box(data.sample(k)),
                        data.target(k),
                        &mut lg,
                        &mut scratch,
                    ))
                })
            });
            g.bench_function("hand_loops_avx2", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    black_box(loops.backward_avx2(
                        black_box(data.sample(k)),
                        data.target(k),
                        &mut lg,
                        &mut scratch,
                    ))
                })
            });
            g.bench_function("candle", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    let (x, y) = &candle_samples[k];
                    black_box(candle.backward(black_box(x), y).unwrap())
                })
            });
            g.bench_function("dfdx", |b| {
                b.iter(|| {
                    k = (k + 1) % SAMPLES;
                    let (x, y) = &dfdx_samples[k];
                    black_box(dfdx.backward_sample(black_box(x), y))
                })
            });
            g.finish();
        }

        // 3. A batch of 128: forward.
        {
            let mut g = c.benchmark_group(format!("{name}_batch{BATCH}_forward"));
            g.bench_function("nn", |b| {
                b.iter(|| black_box(net.forward_batch(black_box(&nn_x))))
            });
            g.bench_function("hand_sgemm", |b| {
                b.iter(|| {
                    hand.forward(black_box(&data.x), BATCH, &mut scratch);
                    black_box(scratch.logits(shape, BATCH)[0])
                })
            });
            g.bench_function("hand_sgemm_rowmajor", |b| {
                b.iter(|| {
                    hand_rows.forward(black_box(&data.x), BATCH, &mut scratch);
                    black_box(scratch.logits(shape, BATCH)[0])
                })
            });
            g.bench_function("hand_gemm_crate", |b| {
                b.iter(|| {
                    hand_gc.forward(black_box(&data.x), BATCH, &mut scratch);
                    black_box(scratch.logits(shape, BATCH)[0])
                })
            });
            g.bench_function("candle", |b| {
                b.iter(|| black_box(candle.forward(black_box(&candle_x)).unwrap()))
            });
            g.bench_function("dfdx", |b| {
                b.iter(|| black_box(dfdx.forward_batch(black_box(&dfdx_x))))
            });
            g.finish();
        }

        // 4. A batch of 128: forward + backward (mean loss), the gradient accumulated.
        {
            let mut g = c.benchmark_group(format!("{name}_batch{BATCH}_backward"));
            let mut grad = <$net>::boxed_zeros();
            g.bench_function("nn", |b| {
                b.iter(|| black_box(net.backward_batch(black_box(&nn_x), &nn_y, &mut grad)))
            });
            let mut hg = hand.zero_grad();
            g.bench_function("hand_sgemm", |b| {
                b.iter(|| {
                    black_box(hand.backward(
                        black_box(&data.x[..BATCH * shape.input]),
                        &data.y[..BATCH * shape.output],
                        BATCH,
                        &mut hg,
                        &mut scratch,
                    ))
                })
            });
            let mut hg = hand_rows.zero_grad();
            g.bench_function("hand_sgemm_rowmajor", |b| {
                b.iter(|| {
                    black_box(hand_rows.backward(
                        black_box(&data.x[..BATCH * shape.input]),
                        &data.y[..BATCH * shape.output],
                        BATCH,
                        &mut hg,
                        &mut scratch,
                    ))
                })
            });
            let mut gg = hand_gc.zero_grad();
            g.bench_function("hand_gemm_crate", |b| {
                b.iter(|| {
                    black_box(hand_gc.backward(
                        black_box(&data.x[..BATCH * shape.input]),
                        &data.y[..BATCH * shape.output],
                        BATCH,
                        &mut gg,
                        &mut scratch,
                    ))
                })
            });
            g.bench_function("candle", |b| {
                b.iter(|| black_box(candle.backward(black_box(&candle_x), &candle_y).unwrap()))
            });
            g.bench_function("dfdx", |b| {
                b.iter(|| black_box(dfdx.backward_batch(black_box(&dfdx_x), &dfdx_y)))
            });
            g.finish();
        }
    }};
}

fn main() {
    nn_bench::single_thread();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_network!(&mut c, DIGITS, Digits<f32>, DfdxDigits, 64, 10);
    bench_network!(&mut c, MNIST, Mnist<f32>, DfdxMnist, 784, 10);
    c.final_summary();
}
