//! Runs one operation in a loop, for a profiler (`perf record -e cpu-clock`, or
//! `valgrind --tool=callgrind`):
//!
//! `cargo build --release --bin profile && target/release/profile mnist sample_backward 2000`
//!
//! `target/release/profile parts 2000` times nalgebra's gemv, tr_mul and ger alone.
//!
//! ops: `sample_forward`, `sample_backward`, `batch_forward`, `batch_backward` (batch 128).

use std::hint::black_box;

use nn_bench::nets::{self, Digits, Mnist};
use nn_bench::{DIGITS, Data, MNIST, Params};
use nn_runtime::{Network, Parameters};

fn run<N: Network<f32, I, O>, const I: usize, const O: usize>(
    shape: nn_bench::Shape,
    op: &str,
    iters: usize,
) {
    let params = Params::random(shape, 1);
    let data = Data::random(shape, 128, 2);
    let net: Box<N> = nets::load(&params);
    let mut grad = N::boxed_zeros();
    let samples: Vec<_> = (0..64).map(|k| nets::sample::<I, O>(&data, k)).collect();
    let (bx, by) = nets::batch::<I, O>(&data, 0, 128);
    let started = std::time::Instant::now();
    for k in 0..iters {
        let (x, y) = &samples[k % 64];
        match op {
            "sample_forward" => {
                black_box(net.forward(black_box(x)));
            }
            "sample_backward" => {
                black_box(net.backward(black_box(x), y, &mut grad));
            }
            "batch_forward" => {
                black_box(net.forward_batch(black_box(&bx)));
            }
            "batch_backward" => {
                black_box(net.backward_batch(black_box(&bx), &by, &mut grad));
            }
            _ => panic!("unknown op {op}"),
        }
    }
    let per = started.elapsed() / iters as u32;
    eprintln!("{} {op}: {per:?} per op", shape.name);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "avx2" {
        return avx2_wrappers(args.get(2).map_or(2000, |s| s.parse().unwrap()));
    }
    if args[1] == "parts" {
        return parts(args.get(2).map_or(2000, |s| s.parse().unwrap()));
    }
    let (net, op) = (args[1].as_str(), args[2].as_str());
    let iters: usize = args.get(3).map_or(1000, |s| s.parse().unwrap());
    match net {
        "digits" => run::<Digits<f32>, 64, 10>(DIGITS, op, iters),
        "mnist" => run::<Mnist<f32>, 784, 10>(MNIST, op, iters),
        _ => panic!("unknown network {net}"),
    }
}

/// Times the nalgebra operations nn's per-sample code is made of, on MNIST's first layer
/// (`W` 512×784): `W x` (gemv: an axpy per column), `Wᵀ d` (`tr_mul`: a dot per column) and
/// `G += d xᵀ` (`ger`: an axpy per column).
pub fn parts(iters: usize) {
    use nn_runtime::nalgebra::{SMatrix, SVector};
    type W = SMatrix<f32, 512, 784>;
    // SAFETY: all-zero bits are a valid float matrix.
    let mut w: Box<W> = unsafe { Box::<W>::new_zeroed().assume_init() };
    let mut g: Box<W> = unsafe { Box::<W>::new_zeroed().assume_init() };
    w.iter_mut()
        .enumerate()
        .for_each(|(k, v)| *v = (k % 7) as f32 * 0.01);
    let x = SVector::<f32, 784>::from_fn(|i, _| (i % 5) as f32 * 0.1);
    let d = SVector::<f32, 512>::from_fn(|i, _| (i % 3) as f32 * 0.1);
    let time = |name: &str, f: &mut dyn FnMut()| {
        let started = std::time::Instant::now();
        for _ in 0..iters {
            f();
        }
        eprintln!("{name}: {:?} per op", started.elapsed() / iters as u32);
    };
    time("W x    (gemv, 512x784)", &mut || {
        // By reference: `*w * x` would copy the 1.6 MB matrix.
        #[allow(clippy::op_ref)]
        black_box(&*w * black_box(&x));
    });
    time("Wt d   (tr_mul)", &mut || {
        black_box(w.tr_mul(black_box(&d)));
    });
    time("G += d xt (ger)", &mut || {
        g.ger(1.0, black_box(&d), black_box(&x), 1.0);
    });
    // The same three on the hand-written loop kernels (`nn_bench::hand`), baseline and AVX2.
    use nn_bench::hand;
    let mut y = vec![0.0f32; 512];
    let mut out = vec![0.0f32; 784];
    time("hand gemv, 4 columns per pass", &mut || {
        hand::gemv(w.as_slice(), black_box(x.as_slice()), &mut y);
    });
    time("hand tr_mul, 16-lane dots", &mut || {
        hand::tr_mul_loops(w.as_slice(), black_box(d.as_slice()), &mut out);
    });
    time("hand ger", &mut || {
        hand::outer_loops(black_box(d.as_slice()), x.as_slice(), g.as_mut_slice());
    });
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA.
        time("hand gemv AVX2", &mut || unsafe {
            hand::avx2::gemv(w.as_slice(), black_box(x.as_slice()), &mut y);
        });
        time("hand tr_mul AVX2", &mut || unsafe {
            hand::avx2::tr_mul(w.as_slice(), black_box(d.as_slice()), &mut out);
        });
        time("hand ger AVX2", &mut || unsafe {
            hand::avx2::outer(black_box(d.as_slice()), x.as_slice(), g.as_mut_slice());
        });
    }
    black_box((&y, &out));
    black_box(&mut w);
}

/// nn's per-sample code against the same code called from `#[target_feature(enable =
/// "avx2,fma")]` wrappers (`nn_bench::nets::avx2`).
fn avx2_wrappers(iters: usize) {
    use nn_bench::nets::avx2;
    assert!(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"));
    let time = |name: &str, f: &mut dyn FnMut()| {
        let started = std::time::Instant::now();
        for _ in 0..iters {
            f();
        }
        eprintln!("{name}: {:?} per op", started.elapsed() / iters as u32);
    };
    let data = Data::random(MNIST, 64, 2);
    let net: Box<Mnist<f32>> = nets::load(&Params::random(MNIST, 1));
    let mut grad = Mnist::<f32>::boxed_zeros();
    let (x, y) = nets::sample::<784, 10>(&data, 3);
    time("mnist forward", &mut || {
        black_box(net.forward(black_box(&x)));
    });
    // SAFETY: checked above.
    time("mnist forward, AVX2 wrapper", &mut || unsafe {
        black_box(avx2::mnist_forward(&net, black_box(&x)));
    });
    time("mnist backward", &mut || {
        black_box(net.backward(black_box(&x), &y, &mut grad));
    });
    time("mnist backward, AVX2 wrapper", &mut || unsafe {
        black_box(avx2::mnist_backward(&net, black_box(&x), &y, &mut grad));
    });
    let data = Data::random(DIGITS, 64, 2);
    let net: Box<Digits<f32>> = nets::load(&Params::random(DIGITS, 1));
    let mut grad = Digits::<f32>::boxed_zeros();
    let (x, y) = nets::sample::<64, 10>(&data, 3);
    time("digits forward", &mut || {
        black_box(net.forward(black_box(&x)));
    });
    time("digits forward, AVX2 wrapper", &mut || unsafe {
        black_box(avx2::digits_forward(&net, black_box(&x)));
    });
    time("digits backward", &mut || {
        black_box(net.backward(black_box(&x), &y, &mut grad));
    });
    time("digits backward, AVX2 wrapper", &mut || unsafe {
        black_box(avx2::digits_backward(&net, black_box(&x), &y, &mut grad));
    });
}
