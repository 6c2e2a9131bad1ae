//! `forward` keeps only the layers' outputs (no record of `z`s); the training methods run the
//! record-keeping pass. The two must be the same math: `loss` (through `forward`) equals the
//! loss `backward` returns (through the record) bit for bit, in `f32` (where layers of 256
//! weights or more take the one-pass AVX-512 kernel when the CPU has it, writing `h` alone in
//! `forward` and `(z, h)` in the record) and in `f64`.

use nn_runtime::init::Init;
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Classifier, Network, Parameters, Real};

nn_runtime::network! {
    /// Every dense form `forward` writes as one call: fused relu, an activation applied after
    /// the kernel (tanh), identity, a residual with and without projection, no bias, and a layer
    /// norm between; wide enough that the `f32` layers take the AVX-512 kernel.
    pub struct Wide {
        input: 24,
        h1: dense(32, relu),
        h2: dense(32, tanh) + h1,
        h3: dense(48, relu, bias = false) + project(h1),
        norm: layer_norm,
        h4: dense(32, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// The benchmarks' 64-64-64-10 shape.
    pub struct Small {
        input: 64,
        h1: dense(64, relu),
        h2: dense(64, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

/// `loss` (through `forward`) against `backward`'s loss (through the record), for a few
/// inputs.
fn forward_is_the_records_output<T, N, const IN: usize, const OUT: usize>(what: &str)
where
    T: Real,
    N: Network<T, IN, OUT> + Classifier<T, IN, OUT> + Parameters<T>,
{
    let net: Box<N> = Init::new(7).build().expect("init");
    let mut grad = N::boxed_zeros();
    for sample in 0..8 {
        let x = SVector::<T, IN>::from_fn(|i, _| {
            T::constant(((i * 7 + sample * 13) % 23) as f64 / 11.5 - 1.0)
        });
        let label = sample % OUT;
        let through_forward = net.loss_label(&x, label);
        let through_record = net.backward_label(&x, label, &mut grad);
        assert!(
            through_forward.is_finite(),
            "{what}: loss {through_forward}"
        );
        assert!(
            through_forward == through_record,
            "{what}, sample {sample}: `forward`'s loss {through_forward} against the record's \
             {through_record}"
        );
    }
}

#[test]
fn forward_equals_the_record_of_the_training_pass_bit_for_bit() {
    forward_is_the_records_output::<f32, Wide<f32>, 24, 10>("Wide<f32>");
    forward_is_the_records_output::<f64, Wide<f64>, 24, 10>("Wide<f64>");
    forward_is_the_records_output::<f32, Small<f32>, 64, 10>("Small<f32>");
    forward_is_the_records_output::<f64, Small<f64>, 64, 10>("Small<f64>");
}
