//! The networks in dfdx 0.13 (CPU), as its users write them: a tuple of `Linear` modules and
//! `ReLU` / `Tanh`, samples as rows, `cross_entropy_with_logits_loss` against one-hot target
//! probabilities (mean over the batch), the tape started with `trace(grads)`, gradients kept
//! across steps (`alloc_grads` once, `zero_grads` after each update) and the `Sgd` optimizer.

use dfdx::optim::Sgd;
use dfdx::prelude::*;

use crate::{Arch, Data, LR, Layer, Params};

/// 2-8-1, tanh.
pub type TinyModel = (Linear<2, 8>, Tanh, Linear<8, 1>);
/// 64-64-64-10, relu.
pub type SmallModel = (Linear<64, 64>, ReLU, Linear<64, 64>, ReLU, Linear<64, 10>);
/// 784-128-10, relu.
pub type MidModel = (Linear<784, 128>, ReLU, Linear<128, 10>);
/// 784-512-512-10, relu.
pub type LargeModel = (
    Linear<784, 512>,
    ReLU,
    Linear<512, 512>,
    ReLU,
    Linear<512, 10>,
);

type Built<M> = <M as BuildOnDevice<Cpu, f32>>::Built;

/// One sample of `I` inputs.
pub type Sample<const I: usize> = Tensor<Rank1<I>, f32, Cpu>;
/// A batch of samples as rows.
pub type Rows<const I: usize> = Tensor<(usize, Const<I>), f32, Cpu>;

macro_rules! dfdx_mlp {
    ($(#[$doc:meta])* $name:ident, $model:ty, $arch:expr, $i:literal, $o:literal, [$($idx:tt),+]) => {
        $(#[$doc])*
        pub struct $name {
            /// The CPU device.
            pub dev: Cpu,
            /// The built model.
            pub model: Built<$model>,
            grads: Option<Gradients<f32, Cpu>>,
            opt: Sgd<Built<$model>, f32, Cpu>,
            arch: Arch,
        }

        impl $name {
            /// The network holding `p` (PyTorch layout is dfdx's), its gradients and optimizer.
            pub fn new(p: &Params) -> Self {
                assert_eq!(p.arch, $arch);
                let dev = Cpu::seed_from_u64(0);
                let mut model = dev.build_module::<$model, f32>();
                let mut layers = p.layers.iter();
                $(
                    let l = layers.next().expect("a layer");
                    model.$idx.weight.copy_from(&l.w);
                    model.$idx.bias.copy_from(&l.b);
                )+
                let grads = Some(model.alloc_grads());
                let opt = Sgd::new(
                    &model,
                    SgdConfig {
                        lr: f64::from(LR),
                        momentum: None,
                        weight_decay: None,
                    },
                );
                Self { dev, model, grads, opt, arch: p.arch }
            }

            /// One sample as a tensor.
            pub fn sample(&self, x: &[f32]) -> Sample<$i> {
                let mut t = self.dev.zeros::<Rank1<$i>>();
                t.copy_from(x);
                t
            }

            /// The one-hot target of `label`.
            pub fn target(&self, label: usize) -> Sample<$o> {
                let mut t = self.dev.zeros::<Rank1<$o>>();
                let mut y = [0.0; $o];
                y[label] = 1.0;
                t.copy_from(&y);
                t
            }

            /// All of `data`: inputs `[n, in]`, one-hot targets `[n, out]`.
            pub fn batch(&self, data: &Data) -> (Rows<$i>, Rows<$o>) {
                let x = self.dev.tensor_from_vec(data.x.clone(), (data.n, Const::<$i>));
                let y = self.dev.tensor_from_vec(data.one_hot(), (data.n, Const::<$o>));
                (x, y)
            }

            /// Logits of one sample (no tape).
            #[inline]
            pub fn forward(&self, x: &Sample<$i>) -> Sample<$o> {
                self.model.forward(x.clone())
            }

            /// One SGD step on a batch; returns the mean loss.
            #[inline]
            pub fn step_batch(&mut self, x: &Rows<$i>, y: &Rows<$o>) -> f32 {
                let grads = self.grads.take().expect("gradients");
                let logits = self.model.forward_mut(x.trace(grads));
                let loss = cross_entropy_with_logits_loss(logits, y.clone());
                let value = loss.array();
                let mut grads = loss.backward();
                self.opt.update(&mut self.model, &grads).expect("every parameter has a gradient");
                self.model.zero_grads(&mut grads);
                self.grads = Some(grads);
                value
            }

            /// One SGD step on one sample; returns its loss.
            #[inline]
            pub fn step_sample(&mut self, x: &Sample<$i>, y: &Sample<$o>) -> f32 {
                let grads = self.grads.take().expect("gradients");
                let logits = self.model.forward_mut(x.trace(grads));
                let loss = cross_entropy_with_logits_loss(logits, y.clone());
                let value = loss.array();
                let mut grads = loss.backward();
                self.opt.update(&mut self.model, &grads).expect("every parameter has a gradient");
                self.model.zero_grads(&mut grads);
                self.grads = Some(grads);
                value
            }

            /// The parameters, PyTorch layout.
            pub fn params(&self) -> Params {
                let mut layers = Vec::new();
                $(
                    let l = &self.model.$idx;
                    let b = l.bias.as_vec();
                    let w = l.weight.as_vec();
                    layers.push(Layer { out: b.len(), inp: w.len() / b.len(), w, b });
                )+
                Params { arch: self.arch, layers }
            }
        }
    };
}

dfdx_mlp!(
    /// [`TinyModel`], its gradients and optimizer.
    DfdxTiny, TinyModel, crate::TINY, 2, 1, [0, 2]
);
dfdx_mlp!(
    /// [`SmallModel`], its gradients and optimizer.
    DfdxSmall, SmallModel, crate::SMALL, 64, 10, [0, 2, 4]
);
dfdx_mlp!(
    /// [`MidModel`], its gradients and optimizer.
    DfdxMid, MidModel, crate::MID, 784, 10, [0, 2]
);
dfdx_mlp!(
    /// [`LargeModel`], its gradients and optimizer.
    DfdxLarge, LargeModel, crate::LARGE, 784, 10, [0, 2, 4]
);
