//! Where nn's time goes on A 64-64-64-10, for the reading in BENCHMARKS.md: nn's per-sample
//! product (`nn_runtime::linalg::matvec`) alone on each layer's shape, against nn's whole
//! forward pass and the limit's. Best of 30 runs of 20,000 calls, single thread.
//!
//! `cargo run --profile bench -p nn-bench --example parts`

use std::hint::black_box;
use std::time::Instant;

use nn_bench::nets::{self, Small};
use nn_bench::{DATA_SEED, Data, Params, SMALL, WEIGHT_SEED, limit};
use nn_runtime::nalgebra::{SMatrix, SVector};

fn time(name: &str, mut f: impl FnMut()) {
    let mut best = f64::INFINITY;
    for _ in 0..30 {
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(n) * 1e9);
    }
    println!("{name}: {best:.1} ns");
}

fn main() {
    nn_bench::single_thread();
    let p = Params::random(SMALL, WEIGHT_SEED);
    let d = Data::random(SMALL, 1, DATA_SEED);
    let x = SVector::<f32, 64>::from_column_slice(d.sample(0));
    let w64 = SMatrix::<f32, 64, 64>::from_fn(|r, c| p.layers[1].w[r * 64 + c]);
    let w10 = SMatrix::<f32, 10, 64>::from_fn(|r, c| p.layers[2].w[r * 64 + c]);
    time("nn matvec 64x64", || {
        black_box(nn_runtime::linalg::matvec(black_box(&w64), black_box(&x)));
    });
    time("nn matvec 10x64", || {
        black_box(nn_runtime::linalg::matvec(black_box(&w10), black_box(&x)));
    });
    let net: Box<Small<f32>> = nets::load(&p);
    time("nn forward 64-64-64-10", || {
        black_box(nets::small_forward(black_box(&net), black_box(&x)));
    });
    let mut lim = limit::Infer::new(&p, d.sample(0));
    time("limit forward 64-64-64-10", || {
        black_box(lim.run());
    });
}
