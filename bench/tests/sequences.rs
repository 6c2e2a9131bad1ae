//! The sequence workloads' implementations against their references, before anything is
//! timed (the `sequences` bench runs the same checks): the streaming limits and nn's `step`
//! against the plain f64 recurrence, and the fast activations against f64 within their stated
//! errors.

use nn_bench::stream::limit::{SIGMOID_MAX_ERROR, TANH_MAX_ERROR, sigmoid, tanh};
use nn_bench::stream::{self, Cell, MODELS, StreamParams};
use nn_bench::workloads::CheckOnly;
use nn_bench::{conv, seqtrain};

#[test]
fn every_streaming_implementation_follows_the_f64_reference() {
    stream::run(&mut CheckOnly, &|_| true);
}

#[test]
fn conv_gru_streaming_follows_the_f64_reference() {
    stream::conv_gru::run(&mut CheckOnly, &|_| true);
}

/// The conv + GRU reference is causal: changing the input at one step leaves every earlier
/// output as it was and changes the outputs from that step on.
#[test]
fn the_conv_gru_reference_is_causal() {
    let p = stream::conv_gru::ConvGruParams::random(1);
    let xs = stream::signal(30, 9);
    let mut changed = xs.clone();
    changed[12] += 0.5;
    let (a, b) = (
        stream::conv_gru::reference(&p, &xs),
        stream::conv_gru::reference(&p, &changed),
    );
    assert_eq!(a[..12], b[..12]);
    assert!(a[12..].iter().zip(&b[12..]).all(|(a, b)| a != b));
}

#[test]
fn every_lenet_follows_the_f64_reference() {
    conv::run(&mut CheckOnly, &|_| true);
}

#[test]
fn every_training_step_follows_the_f64_reference() {
    seqtrain::run(&mut CheckOnly, &|_| true);
}

/// The stated errors hold on a dense grid, for the FMA and the plain build of the formula.
#[test]
fn fast_activations_are_within_their_stated_errors() {
    let (mut worst_tanh, mut worst_sigmoid) = (0f64, 0f64);
    for i in -2_000_000..=2_000_000 {
        let x = i as f32 * 1e-5;
        let t = f64::from(x).tanh();
        let s = 1.0 / (1.0 + (-2.0 * f64::from(x)).exp());
        for (ft, fs) in [
            (tanh::<true>(x), sigmoid::<true>(2.0 * x)),
            (tanh::<false>(x), sigmoid::<false>(2.0 * x)),
        ] {
            worst_tanh = worst_tanh.max((f64::from(ft) - t).abs());
            worst_sigmoid = worst_sigmoid.max((f64::from(fs) - s).abs());
        }
    }
    eprintln!("tanh within {worst_tanh:.2e}, sigmoid within {worst_sigmoid:.2e}");
    assert!(
        worst_tanh <= f64::from(TANH_MAX_ERROR),
        "tanh: {worst_tanh:e}"
    );
    assert!(
        worst_sigmoid <= f64::from(SIGMOID_MAX_ERROR),
        "sigmoid: {worst_sigmoid:e}"
    );
}

/// The reference itself: a GRU whose update gate is saturated open keeps its state, and an
/// LSTM with its output gate shut outputs the dense bias, whatever the input.
#[test]
fn the_reference_follows_pytorchs_gate_order() {
    let xs = stream::signal(50, 9);
    let mut gru = StreamParams::random(MODELS[0], 1);
    assert_eq!(gru.model.cell, Cell::Gru);
    let h = gru.model.hidden;
    // Gates r, z, n: z ≈ 1 keeps h = 0, so the output is the bias.
    gru.b_ih[h..2 * h].fill(40.0);
    let out = stream::reference(&gru, &xs);
    assert!(
        out.iter()
            .all(|&y| (y - f64::from(gru.b_out)).abs() < 1e-12),
        "{out:?}"
    );

    let mut lstm = StreamParams::random(MODELS[2], 1);
    assert_eq!(lstm.model.cell, Cell::Lstm);
    let h = lstm.model.hidden;
    // Gates i, f, g, o: o ≈ 0 makes h = 0.
    lstm.b_ih[3 * h..].fill(-60.0);
    let out = stream::reference(&lstm, &xs);
    assert!(
        out.iter()
            .all(|&y| (y - f64::from(lstm.b_out)).abs() < 1e-12),
        "{out:?}"
    );
}

/// burn's rows of T, L and M (feature `burn`): loss and one-step changes within the
/// tolerances of the f64 references, logits within `conv::TOL_LOGITS`, as candle's.
#[cfg(feature = "burn")]
#[test]
fn burns_training_steps_and_lenet_follow_the_f64_reference() {
    seqtrain::burn_impl::run(&mut CheckOnly, &|_| true);
    conv::burn_impl::run(&mut CheckOnly, &|_| true);
}

/// burn's GunPoint model (G) against its f64 reference.
#[cfg(feature = "burn")]
#[test]
fn burns_gunpoint_model_follows_the_f64_reference() {
    conv::burn_impl::run_gunpoint(&mut CheckOnly, &|_| true);
}
