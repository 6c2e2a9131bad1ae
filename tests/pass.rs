//! Generated code compiles cleanly under strict lints and in a hostile namespace.
#![deny(warnings, missing_docs, clippy::all, unused_qualifications)]
// The expansion contains no `unsafe` (and no `allow(unsafe_code)`, which `forbid` rejects).
#![forbid(unsafe_code)]

/// Every feature in one network, under `deny(warnings, missing_docs, clippy::all)`.
mod strict {
    nn_runtime::network! {
        /// Every layer kind, activation family and residual form.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Everything {
            input: 6,
            /// The first hidden layer.
            h1: dense(8, relu),
            h2: dense(8, leaky_relu(0.2)) + h1,
            h3: dense(5, gelu(tanh), bias = false) + project(h1),
            h4: dense(6, softmax) + input,
            n1: layer_norm(silu, eps = 1e-3) + h4,
            h5: dense(6, step),
            h6: dense(6, softplus) + n1,
            h7: dense(4, sigmoid),
            h8: dense(4, tanh),
            h9: dense(4, gelu),
            h10: dense(4, identity),
            // The fused step's block of `h11` opens with `dh_h10 +=` (`h12` declared it).
            h11: dense(4, bias = false),
            h12: dense(4) + h10,
            out: dense(3),
            loss: softmax_cross_entropy,
        }
    }
}

/// An inference-only network (no loss) under the same lints: its record's unread fields and
/// its training stubs warn about nothing.
mod strict_inference_only {
    nn_runtime::network! {
        /// Scores two classes.
        pub struct Scorer {
            input: 4,
            h: dense(8, relu) + project(input),
            n: layer_norm,
            out: dense(2, softmax),
        }
    }
}

/// The generated code names nothing from the caller's scope.
#[allow(non_camel_case_types, dead_code)]
mod hostile {
    struct Option;
    struct Result;
    struct Vec;
    struct Box;
    struct f32;
    struct f64;
    struct usize;
    struct str;
    mod core {}
    mod nalgebra {}

    nn_runtime::network! {
        /// Compiles even though the names above shadow the prelude.
        pub struct Shadowed {
            input: 3,
            h: dense(4, tanh) + project(input),
            n: layer_norm,
            out: dense(2),
            loss: binary_cross_entropy,
        }
    }
}

use nn_runtime::Parameters;

#[test]
fn strict_and_hostile_networks_run() {
    let net = strict::Everything::<f64>::zeros();
    let copy = net.clone();
    assert_eq!(net, copy);
    let x = nn_runtime::nalgebra::SVector::<f64, 6>::from_element(0.5);
    let p = net.predict(&x);
    assert!((p.sum() - 1.0).abs() < 1e-12);

    let mut grad = hostile::Shadowed::<f32>::zeros();
    let net = hostile::Shadowed::<f32>::zeros();
    let x = nn_runtime::nalgebra::SVector::<f32, 3>::from_element(1.0);
    let y = nn_runtime::nalgebra::SVector::<f32, 2>::new(1.0, 0.0);
    let loss = net.backward(&x, &y, &mut grad);
    assert!((loss - core::f32::consts::LN_2).abs() < 1e-6);
    assert_eq!(<hostile::Shadowed as Parameters<f32>>::TENSORS.len(), 7);
}

/// Raw identifiers name layers without their `r#`, as PyTorch would: `type.weight`.
mod raw {
    nn_runtime::network! {
        /// Layers named with keywords.
        pub struct r#Raw {
            input: 2,
            r#type: dense(3, relu),
            r#match: dense(3) + r#type,
            r#loop: dense(2) + project(r#type),
            loss: mse,
        }
    }
}

#[test]
fn raw_identifiers_are_named_without_r_hash() {
    let names: Vec<&str> = <raw::Raw as Parameters<f32>>::TENSORS
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "type.weight",
            "type.bias",
            "match.weight",
            "match.bias",
            "loop.weight",
            "loop.bias",
            "loop.proj.weight"
        ]
    );
    assert!(
        <raw::Raw as Parameters<f32>>::TENSORS
            .iter()
            .all(|t| !t.layer.contains("r#"))
    );
    assert_eq!(
        <raw::Raw as Parameters<f32>>::ARCHITECTURE,
        "input: 2, type: dense(3, relu), match: dense(3) + type, \
         loop: dense(2) + project(type), loss: mse"
    );
    let net = raw::Raw::<f32>::zeros();
    assert_eq!(net.r#type.weight.len(), 6);
}

/// `#[cfg]` on the struct removes everything generated with it; a false one compiles to nothing.
mod configured {
    nn_runtime::network! {
        /// Never compiled.
        #[cfg(any())]
        pub struct Gone {
            input: 2,
            out: dense(1),
            loss: mse,
        }
    }

    nn_runtime::network! {
        /// Always compiled; `cfg_attr` adds its derive.
        #[cfg(all())]
        #[cfg_attr(all(), derive(Clone))]
        pub struct Kept {
            input: 2,
            out: dense(1),
            loss: mse,
        }
    }
}

#[test]
fn a_configured_network_keeps_its_impls() {
    let net = configured::Kept::<f32>::zeros().clone();
    assert_eq!(<configured::Kept as Parameters<f32>>::TENSORS.len(), 2);
    assert_eq!(net.out.weight.len(), 2);
}

/// `#[derive(Default)]` on a network: every parameter 0, as `zeros`.
mod defaulted {
    nn_runtime::network! {
        /// Derives `Default`.
        #[derive(Default, Debug, PartialEq)]
        pub struct Defaulted {
            input: 3,
            h: dense(4, relu, bias = false) + project(input),
            n: layer_norm,
            out: dense(2),
            loss: mse,
        }
    }
}

#[test]
fn derive_default_gives_zeros() {
    let net = defaulted::Defaulted::<f64>::default();
    assert_eq!(net, defaulted::Defaulted::<f64>::zeros());
    assert!(net.n.weight.iter().all(|&g| g == 0.0));
}

/// Dropout and batch norm under the same lints: an input dropout (whose gradient nothing
/// reads), a batch norm with an activation and options, a residual around a dropout.
mod strict_modes {
    nn_runtime::network! {
        /// Every training-mode layer form.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Modal {
            input: 4,
            d0: dropout(0.1),
            h1: dense(6, relu),
            bn: batch_norm(relu, eps = 1e-3, momentum = 0.05),
            d1: dropout(0.5) + h1,
            out: dense(2),
            loss: mse,
        }
    }
}

#[test]
fn a_network_with_modes_runs_under_strict_lints() {
    use nn_runtime::{Batch, Training};
    let mut net = strict_modes::Modal::<f64>::zeros();
    let mut grad = strict_modes::Modal::<f64>::zeros();
    let (x, y) = (
        Batch::<f64, 4>::from_element(3, 0.5),
        Batch::<f64, 2>::zeros(3),
    );
    assert_eq!(
        net.train_batch(&x, &y, &mut grad, &mut Training::seeded(0)),
        0.0
    );
    assert_eq!(
        net.forward_batch_train(&x, &mut Training::seeded(0))
            .ncols(),
        3
    );
    assert_eq!(net.predict_batch(&x), Batch::<f64, 2>::zeros(3));
}

/// A sequence network under the same lints, in the hostile namespace (its `Vec`, `Box` and
/// `usize` shadowed): every sequence layer, residuals from the input, and the input gradients'
/// scratch gradient.
mod strict_sequences {
    #[allow(non_camel_case_types, dead_code)]
    struct Vec;
    #[allow(non_camel_case_types, dead_code)]
    struct Box;
    #[allow(non_camel_case_types, dead_code)]
    struct usize;

    nn_runtime::network! {
        /// Every sequence layer form.
        pub struct Sequential {
            input: seq(2),
            c: conv1d(2, kernel = 3, dilation = 2, causal, tanh) + input,
            r1: gru(4) + project(input),
            n: layer_norm,
            r2: lstm(3),
            r3: rnn(3, relu) + r2,
            pool: mean,
            out: dense(2),
            loss: mse,
        }
    }
}

#[test]
fn a_sequence_network_runs_under_strict_lints() {
    use nn_runtime::nalgebra::SVector;
    use nn_runtime::{Batch, SequenceNetwork};
    let net = strict_sequences::Sequential::<f64>::zeros();
    let x = [SVector::<f64, 2>::from_element(0.5); 4];
    let y = SVector::<f64, 2>::zeros();
    assert_eq!(net.input_gradient(&x, &y).len(), 4);
    let xb = [
        Batch::<f64, 2>::from_element(3, 0.5),
        Batch::<f64, 2>::zeros(3),
    ];
    let gradient = SequenceNetwork::input_gradient_batch(&net, &xb, &Batch::<f64, 2>::zeros(3));
    assert_eq!(gradient[1].ncols(), 3);
}
