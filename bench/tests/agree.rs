//! Before anything is timed: the hand-written, candle and dfdx versions compute the same loss
//! and the same gradients as nn, from the same weights and data, to 1e-4 relative in f32. So
//! the benchmarks compare implementations of one computation.

use nn_bench::candle_impl::{self, CandleNet};
use nn_bench::dfdx_impl::{DfdxDigits, DfdxMnist};
use nn_bench::hand::{Backend, Hand, Layout, Loops, Scratch};
use nn_bench::nets::{self, Digits, Mnist};
use nn_bench::{DIGITS, Data, MNIST, Params, Shape};
use nn_runtime::Parameters;

const TOL: f32 = 1e-4;

/// `|a − b| ≤ TOL · |b|` for losses.
fn assert_loss(what: &str, got: f32, want: f32) {
    assert!(
        (got - want).abs() <= TOL * want.abs(),
        "{what}: loss {got} vs nn's {want}"
    );
}

/// For every tensor, `max |a − b| ≤ TOL · max |b|` (relative to the tensor's scale, so that
/// entries that cancel to nearly zero do not make the check meaningless).
fn assert_grads(what: &str, got: &Params, want: &Params) {
    let mut worst = 0f32;
    for ((name, g), (_, w)) in got.tensors().into_iter().zip(want.tensors()) {
        assert_eq!(g.len(), w.len(), "{what}: {name} length");
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: nn's {name} gradient is all zero");
        let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= TOL * scale,
            "{what}: {name} differs by {err:e} (scale {scale:e}, relative {:e})",
            err / scale
        );
        worst = worst.max(err / scale);
    }
    eprintln!("{what}: worst relative gradient difference {worst:.1e}");
}

/// Everything for one shape. `nn_*` closures are the nn network's, written per network type.
struct Case {
    shape: Shape,
    params: Params,
    data: Data,
}

impl Case {
    fn new(shape: Shape) -> Self {
        Self {
            shape,
            params: Params::random(shape, 1),
            data: Data::random(shape, 128, 2),
        }
    }

    fn check_hand(&self, per_sample: (f32, &Params), batch: (f32, &Params), samples: usize) {
        let (shape, d) = (self.shape, &self.data);
        let mut s = Scratch::new(shape, d.n);
        let loops = Loops::new(&self.params);
        for (layout, backend) in [
            (Layout::ColMajor, Backend::Matrixmultiply),
            (Layout::RowMajor, Backend::Matrixmultiply),
            (Layout::ColMajor, Backend::GemmCrate),
            (Layout::RowMajor, Backend::GemmCrate),
        ] {
            let hand = Hand::with_backend(&self.params, layout, backend);
            let layout = format!("{layout:?} {backend:?}");
            // Per sample, sgemm with n = 1, accumulated over `samples` samples.
            let mut g = hand.zero_grad();
            let mut l = 0.0;
            for k in 0..samples {
                l += hand.backward(d.sample(k), d.target(k), 1, &mut g, &mut s);
            }
            let what = format!("hand {layout} per sample");
            assert_loss(&what, l, per_sample.0);
            assert_grads(&what, &hand.grad_params(&g), per_sample.1);

            // A batch of all samples.
            let mut g = hand.zero_grad();
            let l = hand.backward(&d.x, &d.y, d.n, &mut g, &mut s);
            let what = format!("hand {layout} batch");
            assert_loss(&what, l, batch.0);
            assert_grads(&what, &hand.grad_params(&g), batch.1);

            // Forward of one sample against the batch forward.
            hand.forward(&d.x, d.n, &mut s);
            let all = s.logits(shape, d.n).to_vec();
            let o = shape.output;
            for k in [0, 3] {
                for (what, logits) in [
                    ("sgemm", {
                        hand.forward(d.sample(k), 1, &mut s);
                        s.logits(shape, 1).to_vec()
                    }),
                    ("loops", {
                        loops.forward(d.sample(k), &mut s);
                        s.logits(shape, 1).to_vec()
                    }),
                    ("avx2", {
                        loops.forward_avx2(d.sample(k), &mut s);
                        s.logits(shape, 1).to_vec()
                    }),
                ] {
                    for (a, b) in logits.iter().zip(&all[k * o..(k + 1) * o]) {
                        assert!(
                            (a - b).abs() <= TOL * (1.0 + b.abs()),
                            "hand {what} forward"
                        );
                    }
                }
            }
        }

        // Per sample on plain loops, both builds.
        let (mut g_loops, mut g_avx2) = (loops.zero_grad(), loops.zero_grad());
        let (mut l_loops, mut l_avx2) = (0.0, 0.0);
        for k in 0..samples {
            l_loops += loops.backward(d.sample(k), d.target(k), &mut g_loops, &mut s);
            l_avx2 += loops.backward_avx2(d.sample(k), d.target(k), &mut g_avx2, &mut s);
        }
        assert_loss("hand loops per sample", l_loops, per_sample.0);
        assert_grads(
            "hand loops per sample",
            &loops.grad_params(&g_loops),
            per_sample.1,
        );
        assert_loss("hand loops avx2 per sample", l_avx2, per_sample.0);
        assert_grads(
            "hand loops avx2 per sample",
            &loops.grad_params(&g_avx2),
            per_sample.1,
        );
    }

    fn check_candle(&self, per_sample: (f32, &Params), batch: (f32, &Params), samples: usize) {
        let net = CandleNet::new(&self.params).unwrap();
        let mut g = Params::zeros(self.shape);
        let mut loss = 0.0;
        for k in 0..samples {
            let (x, y) = candle_impl::batch(&self.data, k, 1).unwrap();
            let (l, grads) = net.backward(&x, &y).unwrap();
            loss += l.to_scalar::<f32>().unwrap();
            let gk = net.grads_to_params(&grads).unwrap();
            for ((_, a), (_, b)) in tensors_mut(&mut g).into_iter().zip(gk.tensors()) {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            }
        }
        assert_loss("candle per sample", loss, per_sample.0);
        assert_grads("candle per sample", &g, per_sample.1);

        let (x, y) = candle_impl::batch(&self.data, 0, self.data.n).unwrap();
        let (l, grads) = net.backward(&x, &y).unwrap();
        assert_loss("candle batch", l.to_scalar::<f32>().unwrap(), batch.0);
        assert_grads(
            "candle batch",
            &net.grads_to_params(&grads).unwrap(),
            batch.1,
        );

        // Forward agrees with the graph-free path.
        let logits = net.forward(&x).unwrap().t().unwrap().flatten_all().unwrap();
        assert_eq!(logits.dims1().unwrap(), self.data.n * self.shape.output);
    }
}

fn tensors_mut(p: &mut Params) -> [(&'static str, &mut Vec<f32>); 6] {
    [
        ("w1", &mut p.w1),
        ("b1", &mut p.b1),
        ("w2", &mut p.w2),
        ("b2", &mut p.b2),
        ("w3", &mut p.w3),
        ("b3", &mut p.b3),
    ]
}

macro_rules! agree_test {
    ($test:ident, $shape:expr, $net:ty, $dfdx:ty, $i:literal, $o:literal, $samples:literal) => {
        #[test]
        fn $test() {
            let case = Case::new($shape);
            let (shape, d) = (case.shape, &case.data);
            let net: Box<$net> = nets::load(&case.params);
            assert_eq!(
                nets::unload(&*net, shape),
                case.params,
                "load/unload round trip"
            );

            // nn, per sample: gradients accumulated over the first samples.
            let mut grad = <$net>::boxed_zeros();
            let mut sample_loss = 0.0;
            for k in 0..$samples {
                let (x, y) = nets::sample::<$i, $o>(d, k);
                sample_loss += net.backward(&x, &y, &mut grad);
            }
            let sample_grad = nets::unload(&*grad, shape);

            // nn, a batch of every sample.
            let (x, y) = nets::batch::<$i, $o>(d, 0, d.n);
            let mut grad = <$net>::boxed_zeros();
            let batch_loss = net.backward_batch(&x, &y, &mut grad);
            let batch_grad = nets::unload(&*grad, shape);
            // nn's batch forward is its per-sample forward, column by column.
            let logits = net.forward_batch(&x);
            let (x0, _) = nets::sample::<$i, $o>(d, 5);
            let one = net.forward(&x0);
            for r in 0..$o {
                assert!((logits[(r, 5)] - one[r]).abs() <= 1e-4 * (1.0 + one[r].abs()));
            }

            let per_sample = (sample_loss, &sample_grad);
            let batch = (batch_loss, &batch_grad);
            case.check_hand(per_sample, batch, $samples);
            case.check_candle(per_sample, batch, $samples);

            // dfdx, accumulating into its gradients across calls.
            let mut df = <$dfdx>::new(&case.params);
            let mut loss = 0.0;
            for k in 0..$samples {
                let (x, y) = df.sample(d, k);
                loss += df.backward_sample(&x, &y);
            }
            assert_loss("dfdx per sample", loss, sample_loss);
            assert_grads("dfdx per sample", &df.grads(shape), &sample_grad);
            df.zero_grads();
            let (x, y) = df.batch(d, 0, d.n);
            let loss = df.backward_batch(&x, &y);
            assert_loss("dfdx batch", loss, batch_loss);
            assert_grads("dfdx batch", &df.grads(shape), &batch_grad);
            let logits = df.forward_batch(&x).as_vec();
            let nn_logits = net.forward_batch(&nets::batch::<$i, $o>(d, 0, d.n).0);
            for (k, v) in logits.iter().enumerate() {
                // dfdx is [n, out] row-major: the same order as nn's column-major [out, n].
                let w = nn_logits.as_slice()[k];
                assert!((v - w).abs() <= 1e-4 * (1.0 + w.abs()), "dfdx logits");
            }
        }
    };
}

agree_test!(digits_agree, DIGITS, Digits<f32>, DfdxDigits, 64, 10, 4);
agree_test!(mnist_agree, MNIST, Mnist<f32>, DfdxMnist, 784, 10, 4);
