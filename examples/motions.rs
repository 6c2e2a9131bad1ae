//! Activity recognition on BasicMotions with recurrent networks: a smart watch's 3-D
//! accelerometer and gyroscope (6 channels) over 100 steps at 10 Hz, four activities
//! (standing, running, walking, badminton); the official split of 40 training and 40 test
//! series. A GRU reads each series and the mean of its states over time is classified.
//!
//! ```sh
//! cargo run --release --example motions
//! ```
//!
//! Two GRUs read the steps forward and two backward, their probabilities averaged (as in
//! `examples/vowels`). scikit-learn's MLP on the flattened series gets 0.775 on this split
//! (`/work/shared/data/README.md`).

use std::time::Instant;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig};
use nn_runtime::recurrent::SequenceDataset;
use nn_runtime::train::{TrainConfig, TrainingData, fit_data, summary};
use nn_runtime::{Init, Parameters};

nn_runtime::network! {
    /// Reads a series step by step; classifies the activity from the mean state.
    pub struct Motions {
        input: seq(6),
        r1: gru(32),
        pool: mean,
        out: dense(4),
        loss: softmax_cross_entropy,
    }
}

const FEATURES: usize = 6;
const ACTIVITIES: usize = 4;
const SEED: u64 = 7;
/// Networks in the ensemble: even members read forward, odd ones backward.
const MEMBERS: u64 = 4;

type Steps = Vec<SVector<f32, FEATURES>>;
type Data = SequenceDataset<f32, FEATURES, ACTIVITIES>;

/// The series and activities of one split, as the `.ts` file has them.
fn read(split: &str) -> Result<(Vec<Steps>, Vec<usize>), Box<dyn std::error::Error>> {
    let path = format!(
        "{}/data/sequences/BasicMotions_{split}.ts.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let sequences = nn_runtime::ts::read(&path)?.sequences::<f32, FEATURES>()?;
    Ok(sequences.into_iter().map(|s| (s.steps, s.label)).unzip())
}

/// Each channel standardized with its mean and standard deviation over every training step.
fn standardize(train: &[Steps], sets: [Vec<Steps>; 2]) -> [Vec<Steps>; 2] {
    let steps: Vec<&SVector<f32, FEATURES>> = train.iter().flatten().collect();
    let n = steps.len() as f32;
    let mean = steps.iter().fold(SVector::zeros(), |s, x| s + *x) / n;
    let variance = steps
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

fn reversed(set: &[Steps]) -> Vec<Steps> {
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
        "BasicMotions: {} training and {} test series; {MEMBERS} networks {} ({} parameters each)",
        forward.0.len(),
        forward.1.len(),
        <Motions as Parameters<f32>>::ARCHITECTURE,
        Motions::<f32>::PARAM_COUNT
    );

    let started = Instant::now();
    let mut ensemble = Vec::new();
    for member in 0..MEMBERS {
        let seed = SEED + member;
        let (train, test) = if member % 2 == 0 { &forward } else { &backward };
        let mut net: Box<Motions<f32>> = Init::default().seed(seed).build()?;
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
    for (i, &activity) in test_y.iter().enumerate() {
        let probabilities = ensemble.iter().enumerate().fold(
            SVector::<f32, ACTIVITIES>::zeros(),
            |sum, (member, net)| {
                let data = if member % 2 == 0 {
                    &forward.1
                } else {
                    &backward.1
                };
                sum + net.predict(&data.sequences[i])
            },
        );
        correct += usize::from(probabilities.argmax().0 == activity);
    }
    println!(
        "test accuracy: {:.4} ({correct}/{})  (training took {seconds:.2} s)",
        correct as f64 / test_y.len() as f64,
        test_y.len()
    );
    Ok(())
}
