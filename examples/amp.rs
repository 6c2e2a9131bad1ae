//! A guitar-effect model, sequence to sequence: a GRU learns, sample by sample at 48 kHz, a
//! nonlinear effect with memory (a one-pole low-pass, a tanh waveshaper with gain, a one-pole
//! high-pass), from a synthesized signal; then it runs as a plugin would, one sample per
//! `step` call, and the example prints the error-to-signal ratio on held-out audio and the
//! real-time factor.
//!
//! ```sh
//! cargo run --release --example amp
//! ```
//!
//! Training uses the batch path: 400 Adam steps, each on 32 random chunks of 512 samples
//! (`backward_batch`, GEMMs over the chunks), every chunk starting from the zero state (as a
//! stream starting from silence does). The output layer adds the dry input (`+ input`), so the
//! GRU learns what the effect changes.

use std::time::Instant;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
use nn_runtime::{Batch, Init, Parameters};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

nn_runtime::network! {
    /// RTNeural's classic amp model: GRU 1→8, then dense 8→1 per sample, plus the dry input.
    pub struct Amp {
        input: seq(1),
        r1: gru(8),
        out: dense(1) + input,
        loss: mse,
    }
}

const RATE: f64 = 48_000.0;
const SEED: u64 = 3;
const CHUNK: usize = 512;
const CHUNKS_PER_STEP: usize = 32;
const STEPS: usize = 400;

/// A guitar-like test signal: plucked notes (decaying harmonics) at random pitches and levels.
fn synthesize(rng: &mut StdRng, seconds: f64) -> Vec<f32> {
    let n = (seconds * RATE) as usize;
    let mut signal = vec![0.0f64; n];
    let mut start = 0;
    while start < n {
        let length = rng.random_range(4_000..24_000).min(n - start);
        let frequency = 82.4 * 2f64.powf(rng.random_range(0.0..3.0));
        let level = rng.random_range(0.05..0.9);
        let decay = rng.random_range(2.0..8.0);
        for i in 0..length {
            let t = i as f64 / RATE;
            let envelope = level * (-decay * t).exp() * (1.0 - (-t * 400.0).exp());
            let tone: f64 = (1..=5)
                .map(|k| (2.0 * std::f64::consts::PI * frequency * k as f64 * t).sin() / k as f64)
                .sum();
            signal[start + i] += envelope * tone * 0.5;
        }
        start += length;
    }
    signal.into_iter().map(|v| v as f32).collect()
}

/// The effect: one-pole low-pass at 4 kHz, `tanh(8 x)`, one-pole high-pass at 80 Hz.
fn effect(input: &[f32]) -> Vec<f32> {
    let pole = |cutoff: f64| (-2.0 * std::f64::consts::PI * cutoff / RATE).exp();
    let (low, high) = (pole(4_000.0), pole(80.0));
    let (mut lp, mut hp, mut previous) = (0.0f64, 0.0f64, 0.0f64);
    input
        .iter()
        .map(|&x| {
            lp = (1.0 - low) * f64::from(x) + low * lp;
            let shaped = (8.0 * lp).tanh() * 0.5;
            hp = high * (hp + shaped - previous);
            previous = shaped;
            hp as f32
        })
        .collect()
}

/// `Σ (y − ŷ)² / Σ y²`.
fn esr(target: &[f32], output: &[f32]) -> f64 {
    let error: f64 = target
        .iter()
        .zip(output)
        .map(|(y, o)| f64::from(y - o).powi(2))
        .sum();
    let energy: f64 = target.iter().map(|y| f64::from(*y).powi(2)).sum();
    error / energy
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let train_x = synthesize(&mut rng, 20.0);
    let train_y = effect(&train_x);
    let test_x = synthesize(&mut rng, 5.0);
    let test_y = effect(&test_x);
    println!(
        "amp: {} ({} parameters); 20 s of training audio, 5 s held out, at 48 kHz",
        <Amp as Parameters<f32>>::ARCHITECTURE,
        Amp::<f32>::PARAM_COUNT
    );

    let mut net: Box<Amp<f32>> = Init::default().seed(SEED).build()?;
    let mut adam = Adam::new(AdamConfig {
        lr: 0.005,
        ..Default::default()
    })?;
    let mut grad = Amp::<f32>::boxed_zeros();
    let started = Instant::now();
    for step in 1..=STEPS {
        // 32 random chunks, as one batch: step `t` of every chunk in one column each.
        let starts: Vec<usize> = (0..CHUNKS_PER_STEP)
            .map(|_| rng.random_range(0..train_x.len() - CHUNK))
            .collect();
        let columns = |signal: &[f32], t: usize| {
            Batch::<f32, 1>::from_iterator(starts.len(), starts.iter().map(|s| signal[s + t]))
        };
        let x: Vec<Batch<f32, 1>> = (0..CHUNK).map(|t| columns(&train_x, t)).collect();
        let y: Vec<Batch<f32, 1>> = (0..CHUNK).map(|t| columns(&train_y, t)).collect();
        grad.fill(0.0);
        let loss = net.backward_batch(&x, &y, &mut grad);
        adam.step(&mut *net, &grad);
        if step % 100 == 0 {
            println!("  step {step}: training loss (mse) {loss:.2e}");
        }
    }
    let training = started.elapsed().as_secs_f64();

    // As a plugin runs it: one sample per call, the state carried, nothing allocated.
    let mut state = AmpState::default();
    let started = Instant::now();
    let output: Vec<f32> = test_x
        .iter()
        .map(|&x| net.step(&mut state, &SVector::from([x]))[0])
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let audio = test_x.len() as f64 / RATE;
    println!(
        "held-out ESR: {:.4} (the dry signal's: {:.4}); training took {training:.1} s",
        esr(&test_y, &output),
        esr(&test_y, &test_x)
    );
    println!(
        "streaming: {} samples in {:.1} ms, {:.0} ns per sample, real-time factor {:.4} \
         ({:.0}× faster than real time)",
        test_x.len(),
        seconds * 1e3,
        seconds * 1e9 / test_x.len() as f64,
        seconds / audio,
        audio / seconds
    );
    Ok(())
}
