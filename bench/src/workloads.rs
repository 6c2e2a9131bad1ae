//! The workloads: every implementation built from the same weights and data, checked against
//! nn (panics with a message naming the implementation if one disagrees), then handed to a
//! [`Visitor`] as a closure that runs one operation.
//!
//! - A: batch-1 inference, every network of [`crate::ARCHS`];
//! - B: one minibatch SGD step, batch [`BATCH`], 64-64-64-10 and 784-512-512-10;
//! - C: one per-sample SGD step, 64-64-64-10;
//! - D: B's step for nn inside a 2-thread rayon pool, against nn's single thread.

use std::hint::black_box;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::Optimizer;
use nn_runtime::{Batch, Parameters};

use crate::candle_impl::{self, CandleMlp};
use crate::dfdx_impl::{DfdxLarge, DfdxMid, DfdxSmall, DfdxTiny};
use crate::nets::{self, Large, Mid, Small, Tiny};
use crate::{
    ARCHS, Arch, BATCH, DATA_SEED, Data, LARGE, Params, SMALL, WEIGHT_SEED, limit, rel_diff,
};

/// Largest relative difference of logits and losses from nn's.
pub const TOL_OUTPUT: f32 = 1e-4;
/// Largest difference of a tensor's change in one step from nn's, relative to the largest
/// change of that tensor (the change is `lr · g`, small against the weights, so this checks the
/// gradients; f32 rounding of `w − lr g` bounds how close two implementations can be).
pub const TOL_STEP: f32 = 2e-3;

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Batch-1 inference.
    A,
    /// One minibatch SGD step (batch [`BATCH`]).
    B,
    /// One per-sample SGD step.
    C,
    /// B on 2 threads (nn).
    D,
}

/// A workload: what, on which network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// What.
    pub kind: Kind,
    /// On which network.
    pub arch: Arch,
}

impl Workload {
    /// The criterion group: `A_784-512-512-10`.
    pub fn group(&self) -> String {
        format!("{:?}_{}", self.kind, self.arch.name)
    }

    /// The workload of a criterion group.
    pub fn parse(group: &str) -> Option<Self> {
        let (kind, arch) = group.split_once('_')?;
        let kind = match kind {
            "A" => Kind::A,
            "B" => Kind::B,
            "C" => Kind::C,
            "D" => Kind::D,
            _ => return None,
        };
        Some(Self {
            kind,
            arch: Arch::by_name(arch)?,
        })
    }

    /// Samples one operation processes.
    pub fn samples(&self) -> usize {
        match self.kind {
            Kind::A | Kind::C => 1,
            Kind::B | Kind::D => BATCH,
        }
    }

    /// FLOPs of one operation ([`Arch::forward_flops`], [`Arch::step_flops`]).
    pub fn flops(&self) -> f64 {
        match self.kind {
            Kind::A => self.arch.forward_flops(),
            _ => self.arch.step_flops(self.samples()),
        }
    }

    /// A one-line description.
    pub fn title(&self) -> String {
        let what = match self.kind {
            Kind::A => "batch-1 inference".to_string(),
            Kind::B => format!("one SGD step, batch {BATCH}"),
            Kind::C => "one per-sample SGD step (batch 1)".to_string(),
            Kind::D => format!("one SGD step, batch {BATCH}, nn on 2 threads"),
        };
        format!("{} {}: {what}", self.kind_letter(), self.arch.name)
    }

    fn kind_letter(&self) -> &'static str {
        match self.kind {
            Kind::A => "A",
            Kind::B => "B",
            Kind::C => "C",
            Kind::D => "D",
        }
    }
}

/// Every workload, in report order.
pub fn all() -> Vec<Workload> {
    let mut w: Vec<Workload> = ARCHS
        .into_iter()
        .map(|arch| Workload {
            kind: Kind::A,
            arch,
        })
        .collect();
    for (kind, arch) in [
        (Kind::B, SMALL),
        (Kind::B, LARGE),
        (Kind::C, SMALL),
        (Kind::D, SMALL),
        (Kind::D, LARGE),
    ] {
        w.push(Workload { kind, arch });
    }
    w
}

/// Receives each workload's implementations, already checked.
pub trait Visitor {
    /// Whether to build `w` at all (the peers take a while to set up).
    fn wants(&mut self, _w: Workload) -> bool {
        true
    }
    /// The implementations of `w` follow.
    fn begin(&mut self, w: Workload);
    /// One implementation: `op` runs one operation.
    fn visit(&mut self, name: &str, op: &mut dyn FnMut());
    /// The last implementation of the workload was visited.
    fn end(&mut self);
}

/// A visitor that only lets the checks run.
pub struct CheckOnly;

impl Visitor for CheckOnly {
    fn begin(&mut self, _w: Workload) {}
    fn visit(&mut self, _name: &str, _op: &mut dyn FnMut()) {}
    fn end(&mut self) {}
}

/// Panics unless `got`'s outputs match nn's.
fn check_outputs(w: Workload, name: &str, got: &[f32], nn: &[f32]) {
    let d = rel_diff(got, nn);
    eprintln!("{}: {name}: outputs within {d:.1e} of nn's", w.group());
    assert!(
        d <= TOL_OUTPUT,
        "{}: {name} disagrees with nn: outputs {got:?} vs nn's {nn:?} (relative difference {d:e})",
        w.group()
    );
}

/// Panics unless `got`'s loss and one-step update match nn's; returns the worst relative
/// difference of a tensor's change.
fn check_step(
    w: Workload,
    name: &str,
    before: &Params,
    (loss, got): (f32, &Params),
    (nn_loss, nn): (f32, &Params),
) -> f32 {
    let dl = (loss - nn_loss).abs() / nn_loss.abs();
    assert!(
        dl <= TOL_OUTPUT,
        "{}: {name} disagrees with nn: loss {loss} vs nn's {nn_loss}",
        w.group()
    );
    assert!(
        got.is_finite(),
        "{}: {name}: non-finite parameters",
        w.group()
    );
    let mut worst = 0f32;
    for (((tname, b), (_, g)), (_, n)) in before
        .tensors()
        .into_iter()
        .zip(got.tensors())
        .zip(nn.tensors())
    {
        let delta =
            |after: &[f32]| -> Vec<f32> { after.iter().zip(b).map(|(a, b)| a - b).collect() };
        let (dg, dn) = (delta(g), delta(n));
        let d = rel_diff(&dg, &dn);
        assert!(
            d <= TOL_STEP,
            "{}: {name} disagrees with nn after one step: the change of {tname} differs by {d:e} \
             of its scale",
            w.group()
        );
        worst = worst.max(d);
    }
    eprintln!(
        "{}: {name}: loss within {dl:.1e} of nn's, one-step changes within {worst:.1e}",
        w.group()
    );
    worst
}

/// Builds, checks and visits every workload `v` wants.
pub fn run<V: Visitor>(v: &mut V) {
    for w in all() {
        if !v.wants(w) {
            continue;
        }
        match (w.kind, w.arch.name) {
            (Kind::A, "2-8-1") => a::<V, Tiny<f32>, DfdxTiny, 2, 1>(v, w, nets::tiny_forward),
            (Kind::A, "64-64-64-10") => {
                a::<V, Small<f32>, DfdxSmall, 64, 10>(v, w, nets::small_forward)
            }
            (Kind::A, "784-128-10") => a::<V, Mid<f32>, DfdxMid, 784, 10>(v, w, nets::mid_forward),
            (Kind::A, "784-512-512-10") => {
                a::<V, Large<f32>, DfdxLarge, 784, 10>(v, w, nets::large_forward)
            }
            (Kind::B, "64-64-64-10") => b::<V, Small<f32>, DfdxSmall, 64, 10>(
                v,
                w,
                nets::small_step_batch,
                nets::small_backward_batch,
            ),
            (Kind::B, "784-512-512-10") => b::<V, Large<f32>, DfdxLarge, 784, 10>(
                v,
                w,
                nets::large_step_batch,
                nets::large_backward_batch,
            ),
            (Kind::C, "64-64-64-10") => c(v, w),
            (Kind::D, "64-64-64-10") => {
                d::<V, Small<f32>, 64>(v, w, nets::small_step_batch, nets::small_step_batch_in)
            }
            (Kind::D, "784-512-512-10") => {
                d::<V, Large<f32>, 784>(v, w, nets::large_step_batch, nets::large_step_batch_in)
            }
            _ => unreachable!("{w:?}"),
        }
    }
}

/// What the workloads need of a dfdx network.
pub trait DfdxNet<const I: usize, const O: usize> {
    /// Built from `p`.
    fn new(p: &Params) -> Self;
    /// One sample as a tensor.
    fn sample(&self, x: &[f32]) -> crate::dfdx_impl::Sample<I>;
    /// The logits (no tape).
    fn forward(&self, x: &crate::dfdx_impl::Sample<I>) -> crate::dfdx_impl::Sample<O>;
    /// All of `data`.
    fn batch(&self, data: &Data) -> (crate::dfdx_impl::Rows<I>, crate::dfdx_impl::Rows<O>);
    /// One SGD step on a batch.
    fn step_batch(&mut self, x: &crate::dfdx_impl::Rows<I>, y: &crate::dfdx_impl::Rows<O>) -> f32;
    /// The parameters.
    fn params(&self) -> Params;
}

macro_rules! dfdx_net {
    ($t:ty, $i:literal, $o:literal) => {
        impl DfdxNet<$i, $o> for $t {
            fn new(p: &Params) -> Self {
                <$t>::new(p)
            }
            fn sample(&self, x: &[f32]) -> crate::dfdx_impl::Sample<$i> {
                <$t>::sample(self, x)
            }
            #[inline]
            fn forward(&self, x: &crate::dfdx_impl::Sample<$i>) -> crate::dfdx_impl::Sample<$o> {
                <$t>::forward(self, x)
            }
            fn batch(
                &self,
                data: &Data,
            ) -> (crate::dfdx_impl::Rows<$i>, crate::dfdx_impl::Rows<$o>) {
                <$t>::batch(self, data)
            }
            #[inline]
            fn step_batch(
                &mut self,
                x: &crate::dfdx_impl::Rows<$i>,
                y: &crate::dfdx_impl::Rows<$o>,
            ) -> f32 {
                <$t>::step_batch(self, x, y)
            }
            fn params(&self) -> Params {
                <$t>::params(self)
            }
        }
    };
}

dfdx_net!(DfdxTiny, 2, 1);
dfdx_net!(DfdxSmall, 64, 10);
dfdx_net!(DfdxMid, 784, 10);
dfdx_net!(DfdxLarge, 784, 10);

fn candle_vec(t: candle_core::Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1())
        .expect("candle tensor to Vec")
}

/// A: batch-1 inference.
fn a<V, N, D, const I: usize, const O: usize>(
    v: &mut V,
    w: Workload,
    forward: fn(&N, &SVector<f32, I>) -> SVector<f32, O>,
) where
    V: Visitor,
    N: Parameters<f32>,
    D: DfdxNet<I, O>,
{
    let p = Params::random(w.arch, WEIGHT_SEED);
    let data = Data::random(w.arch, 1, DATA_SEED);
    let x = data.sample(0);

    let net: Box<N> = nets::load(&p);
    let nx = SVector::<f32, I>::from_column_slice(x);
    let want = forward(&net, &nx).as_slice().to_vec();

    let mut lim = limit::Infer::new(&p, x);
    check_outputs(w, "limit", lim.run(), &want);
    let floor = limit::Floor::new(&p);
    let total: f32 = p.layers.iter().flat_map(|l| l.w.iter().chain(&l.b)).sum();
    assert!(
        (floor.run() - total).abs()
            <= 1e-3
                * p.layers
                    .iter()
                    .flat_map(|l| &l.w)
                    .map(|v| v.abs())
                    .sum::<f32>(),
        "{}: the floor's sum is wrong",
        w.group()
    );

    let candle = CandleMlp::new(&p).expect("candle network");
    let (cx, _) = candle_impl::batch(&data, 0, 1).expect("candle input");
    check_outputs(
        w,
        "candle",
        &candle_vec(candle.forward(&cx).expect("candle forward")),
        &want,
    );

    let dfdx = D::new(&p);
    let dx = dfdx.sample(x);
    check_outputs(w, "dfdx", &dfdx.forward(&dx).as_vec(), &want);

    #[cfg(feature = "burn")]
    let burn = {
        let burn = crate::burn_impl::BurnMlp::new(&p);
        let (bx, _) = burn.inference_batch(&data);
        check_outputs(w, "burn", &crate::burn_impl::to_vec(burn.infer(&bx)), &want);
        (burn, bx)
    };

    v.begin(w);
    v.visit("nn", &mut || {
        black_box(forward(black_box(&net), black_box(&nx)));
    });
    v.visit("limit", &mut || {
        black_box(lim.run());
    });
    v.visit("floor", &mut || {
        black_box(floor.run());
    });
    v.visit("candle", &mut || {
        black_box(candle.forward(black_box(&cx)).expect("candle forward"));
    });
    v.visit("dfdx", &mut || {
        black_box(dfdx.forward(black_box(&dx)));
    });
    #[cfg(feature = "burn")]
    v.visit("burn", &mut || {
        black_box(burn.0.infer(black_box(&burn.1)));
    });
    v.end();
}

/// The nn step of B and D.
type BatchStep<N, const I: usize> =
    fn(&mut N, &mut N, &mut nn_runtime::optim::Sgd<f32, N>, &Batch<f32, I>, &[usize]) -> f32;

/// B's step without the update (the breakdown rows).
type BatchBackward<N, const I: usize> = fn(&N, &mut N, &Batch<f32, I>, &[usize]) -> f32;

/// B: one minibatch SGD step.
fn b<V, N, D, const I: usize, const O: usize>(
    v: &mut V,
    w: Workload,
    step: BatchStep<N, I>,
    backward: BatchBackward<N, I>,
) where
    V: Visitor,
    N: Parameters<f32>,
    D: DfdxNet<I, O>,
{
    let p = Params::random(w.arch, WEIGHT_SEED);
    let data = Data::random(w.arch, BATCH, DATA_SEED);

    let mut net: Box<N> = nets::load(&p);
    let mut grad = N::boxed_zeros();
    let mut opt = nets::sgd::<N>();
    let x = Batch::<f32, I>::from_column_slice(&data.x);
    let labels = data.labels.clone();
    let nn_loss = step(&mut net, &mut grad, &mut opt, &x, &labels);
    let nn_after = nets::export(&*net, w.arch);
    let want = (nn_loss, &nn_after);

    let mut lim = limit::FusedStep::new(&p, &data);
    let loss = lim.run();
    check_step(w, "limit", &p, (loss, &lim.params()), want);

    let mut candle = CandleMlp::new(&p).expect("candle network");
    let (cx, cy) = candle_impl::batch(&data, 0, BATCH).expect("candle batch");
    let loss = candle.step(&cx, &cy).expect("candle step");
    let loss = loss.to_scalar::<f32>().expect("candle loss");
    check_step(
        w,
        "candle",
        &p,
        (loss, &candle.params().expect("candle params")),
        want,
    );

    let mut dfdx = D::new(&p);
    let (dx, dy) = dfdx.batch(&data);
    let loss = dfdx.step_batch(&dx, &dy);
    check_step(w, "dfdx", &p, (loss, &dfdx.params()), want);

    #[cfg(feature = "burn")]
    let mut burn = {
        let mut burn = crate::burn_impl::BurnMlp::new(&p);
        let (bx, by) = burn.training_batch(&data);
        let loss = crate::burn_impl::to_vec(burn.step(&bx, &by))[0];
        check_step(w, "burn", &p, (loss, &burn.params()), want);
        (burn, bx, by)
    };

    v.begin(w);
    v.visit("nn", &mut || {
        black_box(step(&mut net, &mut grad, &mut opt, black_box(&x), &labels));
    });
    v.visit("limit", &mut || {
        black_box(lim.run());
    });
    v.visit("candle", &mut || {
        black_box(candle.step(&cx, &cy).expect("candle step"));
    });
    v.visit("dfdx", &mut || {
        black_box(dfdx.step_batch(&dx, &dy));
    });
    // nn's step in two parts, to see where its time goes.
    v.visit("nn_backward", &mut || {
        black_box(backward(&net, &mut grad, black_box(&x), &labels));
    });
    v.visit("nn_update", &mut || {
        opt.step(&mut net, black_box(&grad));
    });
    #[cfg(feature = "burn")]
    v.visit("burn", &mut || {
        black_box(burn.0.step(&burn.1, &burn.2));
    });
    v.end();

    // The weights drift under SGD on the same batch; they must stay finite.
    let finite = |name: &str, q: &Params| {
        assert!(
            q.is_finite(),
            "{}: {name}'s weights are no longer finite",
            w.group()
        );
    };
    finite("nn", &nets::export(&*net, w.arch));
    finite("limit", &lim.params());
    finite("candle", &candle.params().expect("candle params"));
    finite("dfdx", &dfdx.params());
    #[cfg(feature = "burn")]
    finite("burn", &burn.0.params());
}

/// C: one per-sample SGD step on 64-64-64-10.
fn c<V: Visitor>(v: &mut V, w: Workload) {
    assert_eq!(w.arch, SMALL);
    let p = Params::random(w.arch, WEIGHT_SEED);
    let data = Data::random(w.arch, 1, DATA_SEED);
    let (x, label) = (data.sample(0), data.labels[0]);

    let mut net: Box<Small<f32>> = nets::load(&p);
    let mut grad = Small::<f32>::boxed_zeros();
    let mut opt = nets::sgd::<Small<f32>>();
    let nx = SVector::<f32, 64>::from_column_slice(x);
    let nn_loss = nets::small_step_sample(&mut net, &mut grad, &mut opt, &nx, label);
    let nn_after = nets::export(&*net, w.arch);
    let want = (nn_loss, &nn_after);

    let mut fused: Box<Small<f32>> = nets::load(&p);
    let loss = nets::small_sgd_step(&mut fused, &nx, label);
    check_step(
        w,
        "nn_fused",
        &p,
        (loss, &nets::export(&*fused, w.arch)),
        want,
    );

    let mut lim = limit::SampleStep::new(&p, x, label);
    let loss = lim.run();
    check_step(w, "limit", &p, (loss, &lim.params()), want);

    let mut candle = CandleMlp::new(&p).expect("candle network");
    let (cx, cy) = candle_impl::batch(&data, 0, 1).expect("candle sample");
    let loss = candle.step(&cx, &cy).expect("candle step");
    let loss = loss.to_scalar::<f32>().expect("candle loss");
    check_step(
        w,
        "candle",
        &p,
        (loss, &candle.params().expect("candle params")),
        want,
    );

    let mut dfdx = DfdxSmall::new(&p);
    let (dx, dy) = (dfdx.sample(x), dfdx.target(label));
    let loss = dfdx.step_sample(&dx, &dy);
    check_step(w, "dfdx", &p, (loss, &dfdx.params()), want);

    #[cfg(feature = "burn")]
    let mut burn = {
        let mut burn = crate::burn_impl::BurnMlp::new(&p);
        let (bx, by) = burn.training_batch(&data);
        let loss = crate::burn_impl::to_vec(burn.step(&bx, &by))[0];
        check_step(w, "burn", &p, (loss, &burn.params()), want);
        (burn, bx, by)
    };

    v.begin(w);
    v.visit("nn", &mut || {
        black_box(nets::small_step_sample(
            &mut net,
            &mut grad,
            &mut opt,
            black_box(&nx),
            label,
        ));
    });
    v.visit("nn_fused", &mut || {
        black_box(nets::small_sgd_step(&mut fused, black_box(&nx), label));
    });
    v.visit("limit", &mut || {
        black_box(lim.run());
    });
    v.visit("candle", &mut || {
        black_box(candle.step(&cx, &cy).expect("candle step"));
    });
    v.visit("dfdx", &mut || {
        black_box(dfdx.step_sample(&dx, &dy));
    });
    // nn's step in two parts, to see where its time goes.
    v.visit("nn_backward", &mut || {
        black_box(nets::small_backward_sample(
            &net,
            &mut grad,
            black_box(&nx),
            label,
        ));
    });
    v.visit("nn_update", &mut || {
        opt.step(&mut net, black_box(&grad));
    });
    #[cfg(feature = "burn")]
    v.visit("burn", &mut || {
        black_box(burn.0.step(&burn.1, &burn.2));
    });
    v.end();

    assert!(nets::export(&*net, w.arch).is_finite(), "C: nn's weights");
    assert!(lim.params().is_finite(), "C: the limit's weights");
}

/// The nn step of D.
type PoolStep<N, const I: usize> = fn(
    &rayon::ThreadPool,
    &mut N,
    &mut N,
    &mut nn_runtime::optim::Sgd<f32, N>,
    &Batch<f32, I>,
    &[usize],
) -> f32;

/// D: nn's B step on 2 threads against its single thread.
fn d<V, N, const I: usize>(v: &mut V, w: Workload, step: BatchStep<N, I>, in_pool: PoolStep<N, I>)
where
    V: Visitor,
    N: Parameters<f32>,
{
    let p = Params::random(w.arch, WEIGHT_SEED);
    let data = Data::random(w.arch, BATCH, DATA_SEED);
    let x = Batch::<f32, I>::from_column_slice(&data.x);
    let labels = data.labels.clone();
    // Its workers flush subnormals to zero as `fit`'s and the global pool's do: a step
    // repeated on one batch drives the gradients towards zero, and on a worker that kept the
    // default the row would time the CPU's microcode assists instead of the library.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(|_| std::mem::forget(nn_runtime::FlushSubnormals::new()))
        .build()
        .expect("a 2-thread pool");

    let mut one: Box<N> = nets::load(&p);
    let mut one_grad = N::boxed_zeros();
    let mut one_opt = nets::sgd::<N>();
    let nn_loss = step(&mut one, &mut one_grad, &mut one_opt, &x, &labels);
    let nn_after = nets::export(&*one, w.arch);

    let mut two: Box<N> = nets::load(&p);
    let mut two_grad = N::boxed_zeros();
    let mut two_opt = nets::sgd::<N>();
    let loss = in_pool(&pool, &mut two, &mut two_grad, &mut two_opt, &x, &labels);
    check_step(
        w,
        "nn on 2 threads",
        &p,
        (loss, &nets::export(&*two, w.arch)),
        (nn_loss, &nn_after),
    );

    v.begin(w);
    v.visit("nn", &mut || {
        black_box(step(
            &mut one,
            &mut one_grad,
            &mut one_opt,
            black_box(&x),
            &labels,
        ));
    });
    v.visit("nn_2threads", &mut || {
        black_box(in_pool(
            &pool,
            &mut two,
            &mut two_grad,
            &mut two_opt,
            black_box(&x),
            &labels,
        ));
    });
    v.end();
}
