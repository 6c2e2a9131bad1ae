//! The two networks in nn's DSL, and conversions from and to [`Params`].

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters};

use crate::{Data, Params, Shape, transpose};

nn_runtime::network! {
    /// 64-128-128-10 relu with a residual around `h2` (the digits model without its layer norm).
    pub struct Digits {
        input: 64,
        h1: dense(128, relu),
        h2: dense(128, relu) + h1,
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// 784-512-512-10 relu (the MNIST MLP).
    pub struct Mnist {
        input: 784,
        h1: dense(512, relu),
        h2: dense(512, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

/// The tensor names of both networks, in [`Params::tensors`] order.
const NAMES: [&str; 6] = [
    "h1.weight",
    "h1.bias",
    "h2.weight",
    "h2.bias",
    "out.weight",
    "out.bias",
];

fn index_of<N: Parameters<f32>>(name: &str) -> usize {
    N::TENSORS
        .iter()
        .position(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

/// A boxed nn network holding `p` (row-major PyTorch layout converted to nalgebra's
/// column-major storage).
pub fn load<N: Parameters<f32>>(p: &Params) -> Box<N> {
    let mut net = N::boxed_zeros();
    for ((_, data), name) in p.tensors().into_iter().zip(NAMES) {
        let i = index_of::<N>(name);
        let shape = N::TENSORS[i].shape;
        let storage = if shape.len() == 2 {
            transpose(shape[0], shape[1], data)
        } else {
            data.to_vec()
        };
        net.tensor_mut(i).copy_from_slice(&storage);
    }
    net
}

/// An nn network (or gradient) as [`Params`].
pub fn unload<N: Parameters<f32>>(net: &N, shape: Shape) -> Params {
    let mut p = Params::zeros(shape);
    let slots: [&mut Vec<f32>; 6] = [
        &mut p.w1, &mut p.b1, &mut p.w2, &mut p.b2, &mut p.w3, &mut p.b3,
    ];
    for (slot, name) in slots.into_iter().zip(NAMES) {
        let i = index_of::<N>(name);
        let shape = N::TENSORS[i].shape;
        *slot = if shape.len() == 2 {
            // Column-major [out, in] is row-major [in, out].
            transpose(shape[1], shape[0], net.tensor(i))
        } else {
            net.tensor(i).to_vec()
        };
    }
    p
}

/// Sample `s` of `data` as nn's input and target vectors.
pub fn sample<const I: usize, const O: usize>(
    data: &Data,
    s: usize,
) -> (SVector<f32, I>, SVector<f32, O>) {
    (
        SVector::from_column_slice(data.sample(s)),
        SVector::from_column_slice(data.target(s)),
    )
}

/// Samples `start..start + n` of `data` as nn batches (samples as columns).
pub fn batch<const I: usize, const O: usize>(
    data: &Data,
    start: usize,
    n: usize,
) -> (Batch<f32, I>, Batch<f32, O>) {
    (
        Batch::<f32, I>::from_column_slice(&data.x[start * I..(start + n) * I]),
        Batch::<f32, O>::from_column_slice(&data.y[start * O..(start + n) * O]),
    )
}

/// Experiment for the report: nn's generated per-sample code, called from functions compiled
/// with AVX2 + FMA (`#[target_feature]`), to see what multiversioning the generated code would
/// give. Whether LLVM inlines the generated body (and nalgebra's loops in it) into these
/// wrappers decides whether they run the wider instructions; call only when the CPU has them.
///
/// # Safety
/// Call these only on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::missing_safety_doc)]
pub mod avx2 {
    use super::*;

    macro_rules! wrap {
        ($fwd:ident, $bwd:ident, $net:ty, $i:literal, $o:literal) => {
            /// `forward`, compiled for AVX2 + FMA.
            #[target_feature(enable = "avx2,fma")]
            pub fn $fwd(net: &$net, x: &SVector<f32, $i>) -> SVector<f32, $o> {
                net.forward(x)
            }

            /// `backward`, compiled for AVX2 + FMA.
            #[target_feature(enable = "avx2,fma")]
            pub fn $bwd(
                net: &$net,
                x: &SVector<f32, $i>,
                y: &SVector<f32, $o>,
                grad: &mut $net,
            ) -> f32 {
                net.backward(x, y, grad)
            }
        };
    }

    wrap!(digits_forward, digits_backward, Digits<f32>, 64, 10);
    wrap!(mnist_forward, mnist_backward, Mnist<f32>, 784, 10);
}
