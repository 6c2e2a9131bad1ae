//! Convolution (issue 12): the LeNet on `1×28×28` images, `conv1` 6 channels 5×5 relu,
//! 2×2 max pool, `conv2` 16 channels 5×5 relu, 2×2 max pool, `fc1` 256→120 relu, `fc2` 120→10
//! (logits); batch-1 inference.
//!
//! The parameters are PyTorch's (`conv1.weight` `[6, 1, 5, 5]`, `conv1.bias`, `conv2.weight`
//! `[16, 6, 5, 5]`, `conv2.bias`, `fc1.weight` `[120, 256]` on the pooled map flattened
//! channel-major as `torch.flatten`, `fc1.bias`, `fc2.weight` `[10, 120]`, `fc2.bias`), from
//! PyTorch's default initialization `U(±1/√fan_in)` for weights and biases. [`reference`] is
//! the forward pass in plain f64 loops.
//!
//! [`gunpoint`] is the GunPoint model of `src/ts_cnn.rs` (G), batch-1 inference, with its own
//! weights, reference and limit.

#[cfg(feature = "burn")]
pub mod burn_impl;
pub mod candle_impl;
pub mod gunpoint;
pub mod gunpoint_candle;
pub mod limit;
pub mod reference;
pub mod step;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Input side.
pub const SIDE: usize = 28;
/// Classes.
pub const CLASSES: usize = 10;
/// Seed of the weights.
pub const WEIGHT_SEED: u64 = 7;
/// Seed of the images.
pub const DATA_SEED: u64 = 8;
/// The criterion group of batch-1 inference.
pub const GROUP_INFER: &str = "L_lenet";
/// The criterion group of the training step.
pub const GROUP_TRAIN: &str = "M_lenet-64";
/// Images per training step.
pub const BATCH: usize = 64;
/// candle 0.11's `max_pool2d` backward scales the gradient it routes by this (DESIGN.md,
/// "Numbers that bite"): `conv2`'s gradient comes back times this, `conv1`'s (behind both
/// pools) times its square. The check pins it, so that a fixed candle shows up.
pub const CANDLE_POOL_GRAD_SCALE: f32 = 0.25;
/// The learning rate of the checked step. The change `lr g` must stand well above the f32
/// rounding of `w − lr g` (≈ 3e-8 for these weights) for the changes to be compared to
/// [`crate::seqtrain::TOL_STEP`]: `conv1`'s gradient, a sum over 64 × 576 positions that
/// mostly cancel, is small, and candle's is 16 times smaller again. The timed steps use
/// [`crate::LR`].
pub const CHECK_LR: f32 = 1.0;
/// Largest difference of an f32 implementation's logits from the f64 reference, relative to
/// the largest logit.
pub const TOL_LOGITS: f64 = 1e-5;

/// The LeNet's parameters, PyTorch layout, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LeNetParams {
    /// `conv1.weight`, `[6, 1, 5, 5]`.
    pub conv1_w: Vec<f32>,
    /// `conv1.bias`, `[6]`.
    pub conv1_b: Vec<f32>,
    /// `conv2.weight`, `[16, 6, 5, 5]`.
    pub conv2_w: Vec<f32>,
    /// `conv2.bias`, `[16]`.
    pub conv2_b: Vec<f32>,
    /// `fc1.weight`, `[120, 256]`.
    pub fc1_w: Vec<f32>,
    /// `fc1.bias`, `[120]`.
    pub fc1_b: Vec<f32>,
    /// `fc2.weight`, `[10, 120]`.
    pub fc2_w: Vec<f32>,
    /// `fc2.bias`, `[10]`.
    pub fc2_b: Vec<f32>,
}

impl LeNetParams {
    /// PyTorch's default initialization from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |n: usize, fan_in: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        Self {
            conv1_w: draw(6 * 25, 25),
            conv1_b: draw(6, 25),
            conv2_w: draw(16 * 6 * 25, 150),
            conv2_b: draw(16, 150),
            fc1_w: draw(120 * 256, 256),
            fc1_b: draw(120, 256),
            fc2_w: draw(10 * 120, 120),
            fc2_b: draw(10, 120),
        }
    }

    /// Every tensor with its PyTorch name and shape.
    pub fn tensors(&self) -> [(&'static str, &[f32], &'static [usize]); 8] {
        [
            ("conv1.weight", &self.conv1_w, &[6, 1, 5, 5]),
            ("conv1.bias", &self.conv1_b, &[6]),
            ("conv2.weight", &self.conv2_w, &[16, 6, 5, 5]),
            ("conv2.bias", &self.conv2_b, &[16]),
            ("fc1.weight", &self.fc1_w, &[120, 256]),
            ("fc1.bias", &self.fc1_b, &[120]),
            ("fc2.weight", &self.fc2_w, &[10, 120]),
            ("fc2.bias", &self.fc2_b, &[10]),
        ]
    }
}

/// `n` images `[n, 1, 28, 28]` with pixels uniform in `[0, 1)`, and their labels.
pub fn images(n: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..n * SIDE * SIDE)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    let labels = (0..n).map(|_| rng.random_range(0..CLASSES)).collect();
    (x, labels)
}

/// `relu(conv(x, w) + b)`, valid, stride 1, on `[c, s, s]` → `[o, s − k + 1, s − k + 1]`.
fn conv_relu_f64(x: &[f64], c: usize, s: usize, w: &[f32], b: &[f32], k: usize) -> Vec<f64> {
    let (o, r) = (b.len(), s - k + 1);
    let mut y = vec![0.0; o * r * r];
    for oc in 0..o {
        for py in 0..r {
            for px in 0..r {
                let mut z = f64::from(b[oc]);
                for ic in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            z += f64::from(w[((oc * c + ic) * k + ky) * k + kx])
                                * x[(ic * s + py + ky) * s + px + kx];
                        }
                    }
                }
                y[(oc * r + py) * r + px] = z.max(0.0);
            }
        }
    }
    y
}

/// 2×2 max pooling, stride 2, on `[c, s, s]`.
fn pool_f64(x: &[f64], c: usize, s: usize) -> Vec<f64> {
    let r = s / 2;
    let mut y = vec![0.0; c * r * r];
    for ch in 0..c {
        for py in 0..r {
            for px in 0..r {
                let at = |dy: usize, dx: usize| x[(ch * s + 2 * py + dy) * s + 2 * px + dx];
                y[(ch * r + py) * r + px] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    y
}

/// `act(W x + b)` for row-major `W` `[b.len(), x.len()]`.
fn dense_f64(x: &[f64], w: &[f32], b: &[f32], relu: bool) -> Vec<f64> {
    (0..b.len())
        .map(|r| {
            let z = f64::from(b[r])
                + w[r * x.len()..(r + 1) * x.len()]
                    .iter()
                    .zip(x)
                    .map(|(&w, x)| f64::from(w) * x)
                    .sum::<f64>();
            if relu { z.max(0.0) } else { z }
        })
        .collect()
}

/// The logits of one `[1, 28, 28]` image, in plain f64 loops.
pub fn reference(p: &LeNetParams, x: &[f32]) -> Vec<f64> {
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let h = conv_relu_f64(&x, 1, 28, &p.conv1_w, &p.conv1_b, 5);
    let h = pool_f64(&h, 6, 24);
    let h = conv_relu_f64(&h, 6, 12, &p.conv2_w, &p.conv2_b, 5);
    let h = pool_f64(&h, 16, 8);
    let h = dense_f64(&h, &p.fc1_w, &p.fc1_b, true);
    dense_f64(&h, &p.fc2_w, &p.fc2_b, false)
}

/// Panics unless `got` is within [`TOL_LOGITS`] of `want`.
pub fn check_logits(group: &str, name: &str, got: &[f32], want: &[f64]) {
    let d = crate::stream::rel_diff_f64(got, want);
    eprintln!("{group}: {name}: logits within {d:.1e} of the f64 reference");
    assert!(
        d <= TOL_LOGITS,
        "{group}: {name}: logits {got:?} vs the reference's {want:?} ({d:e} of their scale)"
    );
}

/// Builds, checks and visits the convolution rows whose group `wants` accepts.
pub fn run(v: &mut impl crate::stream::StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    use std::hint::black_box;
    if wants(GROUP_INFER) {
        let group = GROUP_INFER;
        let p = LeNetParams::random(WEIGHT_SEED);
        let (x, _) = images(1, DATA_SEED);
        let want = reference(&p, &x);

        let lim = limit::LeNet::new(&p);
        let image: Box<limit::Image> = limit::image(&x);
        check_logits(group, "limit", &lim.forward(&image), &want);

        let candle = candle_impl::CandleLeNet::new(&p, crate::LR).expect("candle network");
        let cx = candle_impl::batch(&x, 1).expect("candle input");
        let got: Vec<f32> = candle
            .forward(&cx)
            .and_then(|t| t.flatten_all()?.to_vec1())
            .expect("candle forward");
        check_logits(group, "candle", &got, &want);

        let nn = crate::convnets::load(&p);
        let nx = nn_runtime::nalgebra::SVector::<f32, 784>::from_column_slice(&x);
        let got = crate::convnets::lenet_forward(&nn, &nx);
        check_logits(group, "nn", got.as_slice(), &want);

        v.visit(group, "nn", &mut || {
            black_box(crate::convnets::lenet_forward(
                black_box(&nn),
                black_box(&nx),
            ));
        });
        v.visit(group, "limit", &mut || {
            black_box(lim.forward(black_box(&image)));
        });
        v.visit(group, "candle", &mut || {
            black_box(candle.forward(black_box(&cx)).expect("candle forward"));
        });
    }
    if wants(GROUP_TRAIN) {
        train(v, GROUP_TRAIN);
    }
    if wants(gunpoint::GROUP) {
        infer_gunpoint(v, gunpoint::GROUP);
    }
}

/// The GunPoint model's rows (G).
fn infer_gunpoint(v: &mut impl crate::stream::StreamVisitor, group: &str) {
    use std::hint::black_box;
    let w = gunpoint::Weights::random(gunpoint::WEIGHT_SEED);
    let x = gunpoint::signal(gunpoint::DATA_SEED);
    let want = gunpoint::reference(&w, &x);

    let lim = gunpoint::Limit::new(&w);
    let lx: [f32; gunpoint::LENGTH] = x.as_slice().try_into().expect("one signal");
    check_logits(group, "limit", &lim.forward(&lx), &want);

    let candle = gunpoint_candle::CandleGunPoint::new(&w).expect("candle network");
    let cx = gunpoint_candle::signal(&x).expect("candle input");
    let got: Vec<f32> = candle
        .forward(&cx)
        .and_then(|t| t.flatten_all()?.to_vec1())
        .expect("candle forward");
    check_logits(group, "candle", &got, &want);

    let nn = crate::convnets::load_gunpoint(&w);
    let nx = nn_runtime::nalgebra::SVector::<f32, 150>::from_column_slice(&x);
    let got = crate::convnets::gunpoint_forward(&nn, &nx);
    check_logits(group, "nn", got.as_slice(), &want);

    v.visit(group, "nn", &mut || {
        black_box(crate::convnets::gunpoint_forward(
            black_box(&nn),
            black_box(&nx),
        ));
    });
    v.visit(group, "limit", &mut || {
        black_box(lim.forward(black_box(&lx)));
    });
    v.visit(group, "candle", &mut || {
        black_box(candle.forward(black_box(&cx)).expect("candle forward"));
    });
}

/// The training step's rows.
fn train(v: &mut impl crate::stream::StreamVisitor, group: &str) {
    use crate::seqtrain::TOL_STEP;
    use std::hint::black_box;
    let p = LeNetParams::random(WEIGHT_SEED);
    let (x, labels) = images(BATCH, DATA_SEED);
    let (want_loss, want) = reference::reference_step(&p, &x, &labels, CHECK_LR);
    // Each tensor's change `after − before`, by name.
    let changes = |q: &LeNetParams| -> Vec<(&'static str, Vec<f32>)> {
        p.tensors()
            .iter()
            .zip(q.tensors())
            .map(|((name, b, _), (_, a, _))| {
                (*name, a.iter().zip(*b).map(|(a, b)| a - b).collect())
            })
            .collect()
    };
    let want_changes = changes(&want);
    // Panics unless `got`'s loss and changes are the reference's, each change scaled by
    // `scale(name)`.
    let check = |name: &str, loss: f32, got: &LeNetParams, scale: &dyn Fn(&str) -> f32| {
        let dl = (loss - want_loss).abs() / want_loss;
        assert!(
            dl <= 1e-4,
            "{group}: {name}: loss {loss} vs the reference's {want_loss}"
        );
        let mut worst = 0f32;
        for ((tname, g), (_, w)) in changes(got).into_iter().zip(&want_changes) {
            let w: Vec<f32> = w.iter().map(|v| v * scale(tname)).collect();
            let d = crate::rel_diff(&g, &w);
            assert!(
                d <= TOL_STEP,
                "{group}: {name}: the change of {tname} differs from the reference's (times {}) \
                 by {d:e} of its scale",
                scale(tname)
            );
            worst = worst.max(d);
        }
        eprintln!(
            "{group}: {name}: loss within {dl:.1e} of the f64 reference, one-step changes \
             within {worst:.1e}"
        );
    };

    use crate::convnets::{self, LeNet};
    use nn_runtime::Parameters;
    let nx = nn_runtime::Batch::<f32, 784>::from_column_slice(&x);
    let mut net = convnets::load(&p);
    let mut grad = LeNet::<f32>::boxed_zeros();
    let mut opt = convnets::sgd(CHECK_LR);
    let loss = convnets::lenet_step_batch(&mut net, &mut grad, &mut opt, &nx, &labels);
    check("nn", loss, &convnets::export(&net), &|_| 1.0);
    let mut net = convnets::load(&p);
    let mut opt = convnets::sgd(crate::LR);

    let mut lim = step::LeNetStep::new(&p, &x, &labels, CHECK_LR);
    let loss = lim.run();
    check("limit", loss, &lim.params(), &|_| 1.0);
    let mut lim = step::LeNetStep::new(&p, &x, &labels, crate::LR);

    let mut candle = candle_impl::CandleLeNet::new(&p, CHECK_LR).expect("candle network");
    let cx = candle_impl::batch(&x, BATCH).expect("candle images");
    let cy = candle_impl::labels(&labels).expect("candle labels");
    let loss = candle.step(&cx, &cy).expect("candle step");
    let loss = loss.to_scalar::<f32>().expect("candle loss");
    let s = CANDLE_POOL_GRAD_SCALE;
    check(
        "candle",
        loss,
        &candle.params().expect("candle params"),
        &|t| {
            if t.starts_with("conv1") {
                s * s
            } else if t.starts_with("conv2") {
                s
            } else {
                1.0
            }
        },
    );
    let mut candle = candle_impl::CandleLeNet::new(&p, crate::LR).expect("candle network");

    v.visit(group, "nn", &mut || {
        black_box(convnets::lenet_step_batch(
            &mut net,
            &mut grad,
            &mut opt,
            black_box(&nx),
            &labels,
        ));
    });
    v.visit(group, "limit", &mut || {
        black_box(lim.run());
    });
    v.visit(group, "candle", &mut || {
        black_box(candle.step(&cx, &cy).expect("candle step"));
    });
    let finite = |q: &LeNetParams| {
        q.tensors()
            .iter()
            .all(|(_, t, _)| t.iter().all(|v| v.is_finite()))
    };
    assert!(
        finite(&convnets::export(&net)),
        "{group}: nn's weights are no longer finite"
    );
    assert!(
        finite(&lim.params()),
        "{group}: the limit's weights are no longer finite"
    );
    assert!(
        finite(&candle.params().expect("candle params")),
        "{group}: candle's weights are no longer finite"
    );
}
