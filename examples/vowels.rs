//! Speaker recognition on JapaneseVowels with recurrent networks: nine speakers uttering /ae/,
//! each utterance 7 to 29 frames of 12 LPC cepstrum coefficients; the official split of 270
//! training and 370 test utterances. A GRU reads each utterance at its own length (nothing is
//! padded) and classifies the speaker from its last state.
//!
//! ```sh
//! cargo run --release --example vowels
//! ```
//!
//! One GRU reaches 0.97 to 0.986 depending on its seed; the errors of a GRU reading the
//! frames forward and one reading them backward differ more than those of two seeds, so the
//! model is three of each, their probabilities averaged (a bidirectional reading, as an
//! ensemble). scikit-learn's MLP on edge-padded, flattened series gets 0.984 on this split
//! (`/work/shared/data/README.md`).

use std::time::Instant;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig};
use nn_runtime::recurrent::SequenceDataset;
use nn_runtime::train::{TrainConfig, TrainingData, fit_data, summary};
use nn_runtime::{Init, Parameters};

nn_runtime::network! {
    /// Reads an utterance frame by frame; classifies the speaker from the last state.
    pub struct Vowels {
        input: seq(12),
        r1: gru(48),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

const FEATURES: usize = 12;
const SPEAKERS: usize = 9;
const SEED: u64 = 7;
/// Networks in the ensemble: even members read forward, odd ones backward.
const MEMBERS: u64 = 6;

type Frames = Vec<SVector<f32, FEATURES>>;
type Data = SequenceDataset<f32, FEATURES, SPEAKERS>;

/// The utterances and speakers of one split, as the `.ts` file has them.
fn read(split: &str) -> Result<(Vec<Frames>, Vec<usize>), Box<dyn std::error::Error>> {
    let path = format!(
        "{}/data/sequences/JapaneseVowels_{split}.ts.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let sequences = nn_runtime::ts::read(&path)?.sequences::<f32, FEATURES>()?;
    Ok(sequences.into_iter().map(|s| (s.steps, s.label)).unzip())
}

/// Each coefficient standardized with its mean and standard deviation over every training frame.
fn standardize(train: &[Frames], sets: [Vec<Frames>; 2]) -> [Vec<Frames>; 2] {
    let frames: Vec<&SVector<f32, FEATURES>> = train.iter().flatten().collect();
    let n = frames.len() as f32;
    let mean = frames.iter().fold(SVector::zeros(), |s, x| s + *x) / n;
    let variance = frames
        .iter()
        .fold(SVector::zeros(), |s: SVector<f32, FEATURES>, x| {
            s + (*x - mean).map(|d| d * d)
        })
        / n;
    let std = variance.map(|v| v.sqrt().max(1e-6));
    sets.map(|set| {
        set.into_iter()
            .map(|s| s.iter().map(|x| (x - mean).component_div(&std)).collect())
            .collect()
    })
}

fn reversed(set: &[Frames]) -> Vec<Frames> {
    set.iter()
        .map(|s| s.iter().rev().copied().collect())
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train_x, train_y) = read("TRAIN")?;
    let (test_x, test_y) = read("TEST")?;
    let [train_x, test_x] = standardize(&train_x, [train_x.clone(), test_x]);
    let forward = (
        Data::classification(train_x.clone(), &train_y)?,
        Data::classification(test_x.clone(), &test_y)?,
    );
    let backward = (
        Data::classification(reversed(&train_x), &train_y)?,
        Data::classification(reversed(&test_x), &test_y)?,
    );
    println!(
        "JapaneseVowels: {} training and {} test utterances; {MEMBERS} networks {} ({} parameters each)",
        forward.0.len(),
        forward.1.len(),
        <Vowels as Parameters<f32>>::ARCHITECTURE,
        Vowels::<f32>::PARAM_COUNT
    );

    let started = Instant::now();
    let mut ensemble = Vec::new();
    for member in 0..MEMBERS {
        let seed = SEED + member;
        let (train, test) = if member % 2 == 0 { &forward } else { &backward };
        let mut net: Box<Vowels<f32>> = Init::default().seed(seed).build()?;
        let mut adam = Adam::new(AdamConfig {
            lr: 0.003,
            ..Default::default()
        })?;
        let config = TrainConfig {
            epochs: 40,
            batch_size: 4,
            seed,
            progress: false,
            ..Default::default()
        };
        let history = fit_data(&mut *net, &mut adam, train, None, &config)?;
        let last = history.epochs.last().ok_or("no epoch ran")?;
        println!(
            "  {} reader (seed {seed}): {}; test accuracy alone {:.4}",
            if member % 2 == 0 {
                "forward "
            } else {
                "backward"
            },
            summary(last),
            test.evaluate(&*net).accuracy.unwrap_or(0.0)
        );
        ensemble.push(net);
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut correct = 0;
    for (i, &speaker) in test_y.iter().enumerate() {
        let probabilities = ensemble.iter().enumerate().fold(
            SVector::<f32, SPEAKERS>::zeros(),
            |sum, (member, net)| {
                let data = if member % 2 == 0 {
                    &forward.1
                } else {
                    &backward.1
                };
                sum + net.predict(&data.sequences[i])
            },
        );
        correct += usize::from(probabilities.argmax().0 == speaker);
    }
    println!(
        "test accuracy: {:.4} ({correct}/{})  (training took {seconds:.2} s)",
        correct as f64 / test_y.len() as f64,
        test_y.len()
    );
    Ok(())
}
