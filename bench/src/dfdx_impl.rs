//! The networks in dfdx 0.13 (CPU): `Linear` modules (weight `[out, in]`, `x Wᵀ + b`), samples
//! as rows (dfdx's layout), the residual as `Residual<(Linear, ReLU)>`, the loss
//! `cross_entropy_with_logits_loss` (mean over the batch), gradients from its tape, accumulated
//! into one `Gradients` across calls (`traced(grads)` … `backward()`), dfdx's way to accumulate.

use dfdx::nn::modules;
use dfdx::prelude::*;

use crate::{Data, Params, Shape};

/// 64-128-128-10 relu, residual around the second layer.
pub type DigitsModel = (
    Linear<64, 128>,
    ReLU,
    Residual<(Linear<128, 128>, ReLU)>,
    Linear<128, 10>,
);

/// 784-512-512-10 relu.
pub type MnistModel = (
    Linear<784, 512>,
    ReLU,
    Linear<512, 512>,
    ReLU,
    Linear<512, 10>,
);

type Built<M> = <M as BuildOnDevice<Cpu, f32>>::Built;
type Lin<const I: usize, const O: usize> = modules::Linear<I, O, f32, Cpu>;

/// The three linear layers of a built model.
pub trait Linears<const I: usize, const H: usize, const O: usize> {
    /// `(h1, h2, out)`.
    fn layers(&self) -> (&Lin<I, H>, &Lin<H, H>, &Lin<H, O>);
    /// `(h1, h2, out)`, mutable.
    fn layers_mut(&mut self) -> (&mut Lin<I, H>, &mut Lin<H, H>, &mut Lin<H, O>);
}

impl Linears<64, 128, 10> for Built<DigitsModel> {
    fn layers(&self) -> (&Lin<64, 128>, &Lin<128, 128>, &Lin<128, 10>) {
        (&self.0, &(self.2).0.0, &self.3)
    }
    fn layers_mut(&mut self) -> (&mut Lin<64, 128>, &mut Lin<128, 128>, &mut Lin<128, 10>) {
        (&mut self.0, &mut (self.2).0.0, &mut self.3)
    }
}

impl Linears<784, 512, 10> for Built<MnistModel> {
    fn layers(&self) -> (&Lin<784, 512>, &Lin<512, 512>, &Lin<512, 10>) {
        (&self.0, &self.2, &self.4)
    }
    fn layers_mut(&mut self) -> (&mut Lin<784, 512>, &mut Lin<512, 512>, &mut Lin<512, 10>) {
        (&mut self.0, &mut self.2, &mut self.4)
    }
}

macro_rules! dfdx_net {
    ($(#[$doc:meta])* $name:ident, $model:ty, $i:literal, $h:literal, $o:literal) => {
        $(#[$doc])*
        pub struct $name {
            /// The CPU device.
            pub dev: Cpu,
            /// The built model.
            pub model: Built<$model>,
            grads: Option<Gradients<f32, Cpu>>,
        }

        impl $name {
            /// The network holding `p`, with zeroed gradients.
            pub fn new(p: &Params) -> Self {
                let dev = Cpu::seed_from_u64(0);
                let mut model = dev.build_module::<$model, f32>();
                {
                    let (l1, l2, l3) = model.layers_mut();
                    l1.weight.copy_from(&p.w1);
                    l1.bias.copy_from(&p.b1);
                    l2.weight.copy_from(&p.w2);
                    l2.bias.copy_from(&p.b2);
                    l3.weight.copy_from(&p.w3);
                    l3.bias.copy_from(&p.b3);
                }
                let grads = Some(model.alloc_grads());
                Self { dev, model, grads }
            }

            /// Sample `s` as tensors.
            pub fn sample(&self, data: &Data, s: usize) -> (Tensor<Rank1<$i>, f32, Cpu>, Tensor<Rank1<$o>, f32, Cpu>) {
                let mut x = self.dev.zeros::<Rank1<$i>>();
                x.copy_from(data.sample(s));
                let mut y = self.dev.zeros::<Rank1<$o>>();
                y.copy_from(data.target(s));
                (x, y)
            }

            /// Samples `start..start + n` as tensors `[n, in]`, `[n, out]` (samples as rows).
            #[allow(clippy::type_complexity)]
            pub fn batch(
                &self,
                data: &Data,
                start: usize,
                n: usize,
            ) -> (
                Tensor<(usize, Const<$i>), f32, Cpu>,
                Tensor<(usize, Const<$o>), f32, Cpu>,
            ) {
                let x = self.dev.tensor_from_vec(
                    data.x[start * $i..(start + n) * $i].to_vec(),
                    (n, Const::<$i>),
                );
                let y = self.dev.tensor_from_vec(
                    data.y[start * $o..(start + n) * $o].to_vec(),
                    (n, Const::<$o>),
                );
                (x, y)
            }

            /// Logits of one sample (no tape).
            pub fn forward_sample(&self, x: &Tensor<Rank1<$i>, f32, Cpu>) -> Tensor<Rank1<$o>, f32, Cpu> {
                self.model.forward(x.clone())
            }

            /// Logits of a batch (no tape).
            pub fn forward_batch(
                &self,
                x: &Tensor<(usize, Const<$i>), f32, Cpu>,
            ) -> Tensor<(usize, Const<$o>), f32, Cpu> {
                self.model.forward(x.clone())
            }

            /// Forward and backward of one sample; accumulates its gradient, returns the loss.
            pub fn backward_sample(
                &mut self,
                x: &Tensor<Rank1<$i>, f32, Cpu>,
                y: &Tensor<Rank1<$o>, f32, Cpu>,
            ) -> f32 {
                let grads = self.grads.take().expect("gradients");
                let logits = self.model.forward(x.clone().traced(grads));
                let loss = cross_entropy_with_logits_loss(logits, y.clone());
                let value = loss.array();
                self.grads = Some(loss.backward());
                value
            }

            /// Forward and backward of a batch; accumulates the gradient of the mean loss,
            /// returns that loss.
            pub fn backward_batch(
                &mut self,
                x: &Tensor<(usize, Const<$i>), f32, Cpu>,
                y: &Tensor<(usize, Const<$o>), f32, Cpu>,
            ) -> f32 {
                let grads = self.grads.take().expect("gradients");
                let logits = self.model.forward(x.clone().traced(grads));
                let loss = cross_entropy_with_logits_loss(logits, y.clone());
                let value = loss.array();
                self.grads = Some(loss.backward());
                value
            }

            /// Clears the accumulated gradients.
            pub fn zero_grads(&mut self) {
                let grads = self.grads.as_mut().expect("gradients");
                self.model.zero_grads(grads);
            }

            /// The accumulated gradients as [`Params`].
            pub fn grads(&self, shape: Shape) -> Params {
                let g = self.grads.as_ref().expect("gradients");
                let (l1, l2, l3) = self.model.layers();
                Params {
                    shape,
                    w1: g.get(&l1.weight).as_vec(),
                    b1: g.get(&l1.bias).as_vec(),
                    w2: g.get(&l2.weight).as_vec(),
                    b2: g.get(&l2.bias).as_vec(),
                    w3: g.get(&l3.weight).as_vec(),
                    b3: g.get(&l3.bias).as_vec(),
                }
            }
        }
    };
}

dfdx_net!(
    /// [`DigitsModel`] with its gradients.
    DfdxDigits, DigitsModel, 64, 128, 10
);
dfdx_net!(
    /// [`MnistModel`] with its gradients.
    DfdxMnist, MnistModel, 784, 512, 10
);
