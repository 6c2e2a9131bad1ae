//! Where nn's time goes on A and C, for the reading in BENCHMARKS.md: nn's per-sample
//! products (`nn_runtime::linalg`) alone on each layer's shape of 64-64-64-10, against nn's
//! whole forward pass (every network) and fused step and the limit's. Best of 30 runs of
//! 20,000 calls, single thread.
//!
//! `cargo run --profile bench -p nn-bench --example parts [-- NAME]` (only the rows whose name
//! contains NAME)

use std::hint::black_box;
use std::time::Instant;

use nn_bench::nets::{self, Large, Mid, Small, Tiny};
use nn_bench::{DATA_SEED, Data, LARGE, MID, Params, SMALL, TINY, WEIGHT_SEED, limit};
use nn_runtime::nalgebra::{SMatrix, SVector};

/// Times `f` unless the first argument is given and `name` does not contain it.
fn time(name: &str, mut f: impl FnMut()) {
    if std::env::args()
        .nth(1)
        .is_some_and(|only| !name.contains(&only))
    {
        return;
    }
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
    let d10 = SVector::<f32, 10>::from_fn(|i, _| i as f32 * 0.1 - 0.4);
    time("nn tr_matvec 10x64", || {
        black_box(nn_runtime::linalg::tr_matvec(
            black_box(&w10),
            black_box(&d10),
        ));
    });
    time("nn tr_matvec 64x64", || {
        black_box(nn_runtime::linalg::tr_matvec(
            black_box(&w64),
            black_box(&x),
        ));
    });
    let mut w = w64;
    time("nn descend_outer 64x64", || {
        nn_runtime::linalg::descend_outer(&mut w, black_box(&x), black_box(&x), 1e-9);
    });
    time("nn tr_matvec_descend 64x64", || {
        black_box(nn_runtime::linalg::tr_matvec_descend(
            &mut w,
            black_box(&x),
            black_box(&x),
            1e-9,
        ));
    });
    let mut w = w10;
    time("nn tr_matvec_descend 10x64", || {
        black_box(nn_runtime::linalg::tr_matvec_descend(
            &mut w,
            black_box(&d10),
            black_box(&x),
            1e-9,
        ));
    });
    let net: Box<Small<f32>> = nets::load(&p);
    time("nn forward 64-64-64-10", || {
        black_box(nets::small_forward(black_box(&net), black_box(&x)));
    });
    let mut lim = limit::Infer::new(&p, d.sample(0));
    time("limit forward 64-64-64-10", || {
        black_box(lim.run());
    });
    let mut fused: Box<Small<f32>> = nets::load(&p);
    time("nn sgd_step_label 64-64-64-10", || {
        black_box(nets::small_sgd_step(&mut fused, black_box(&x), d.labels[0]));
    });
    let mut step = limit::SampleStep::new(&p, d.sample(0), d.labels[0]);
    time("limit step 64-64-64-10", || {
        black_box(step.run());
    });

    // The other networks' forward passes.
    let p = Params::random(TINY, WEIGHT_SEED);
    let d = Data::random(TINY, 1, DATA_SEED);
    let net: Box<Tiny<f32>> = nets::load(&p);
    let x = SVector::<f32, 2>::from_column_slice(d.sample(0));
    time("nn forward 2-8-1", || {
        black_box(nets::tiny_forward(black_box(&net), black_box(&x)));
    });
    let mut lim = limit::Infer::new(&p, d.sample(0));
    time("limit forward 2-8-1", || {
        black_box(lim.run());
    });
    for (arch, name) in [(MID, "784-128-10"), (LARGE, "784-512-512-10")] {
        let p = Params::random(arch, WEIGHT_SEED);
        let d = Data::random(arch, 1, DATA_SEED);
        let x = SVector::<f32, 784>::from_column_slice(d.sample(0));
        if arch == MID {
            let net: Box<Mid<f32>> = nets::load(&p);
            time(&format!("nn forward {name}"), || {
                black_box(nets::mid_forward(black_box(&net), black_box(&x)));
            });
        } else {
            let net: Box<Large<f32>> = nets::load(&p);
            time(&format!("nn forward {name}"), || {
                black_box(nets::large_forward(black_box(&net), black_box(&x)));
            });
        }
        let mut lim = limit::Infer::new(&p, d.sample(0));
        time(&format!("limit forward {name}"), || {
            black_box(lim.run());
        });
    }
}
