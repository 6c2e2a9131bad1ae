//! The program behind `examples/vowels` and `examples/motions`: a UEA/UCR classification
//! dataset read from `data/sequences`, each feature standardized over the training steps, and
//! an ensemble of recurrent networks (even members read the steps forward, odd ones backward)
//! whose class probabilities are averaged.

use std::time::Instant;

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig};
use nn_runtime::recurrent::SequenceDataset;
use nn_runtime::train::{TrainConfig, TrainingData, fit_data, summary};
use nn_runtime::{Batch, Init, SequenceNetwork};

/// What differs between the examples.
#[derive(Clone, Copy)]
pub struct Ensemble {
    /// The archive's name of the dataset: `JapaneseVowels` reads
    /// `data/sequences/JapaneseVowels_{TRAIN,TEST}.ts.gz`.
    pub dataset: &'static str,
    /// What one sequence is, in the printed summary (`utterances`, `series`).
    pub sequences: &'static str,
    /// The seed of the first member; member `m` uses `seed + m`.
    pub seed: u64,
    /// Networks in the ensemble: even members read forward, odd ones backward.
    pub members: u64,
}

type Steps<const F: usize> = Vec<SVector<f32, F>>;

/// The sequences and classes of one split, as the `.ts` file has them.
fn read<const F: usize>(
    dataset: &str,
    split: &str,
) -> Result<(Vec<Steps<F>>, Vec<usize>), Box<dyn std::error::Error>> {
    let path = format!(
        "{}/data/sequences/{dataset}_{split}.ts.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let sequences = nn_runtime::ts::read(&path)?.sequences::<f32, F>()?;
    Ok(sequences.into_iter().map(|s| (s.steps, s.label)).unzip())
}

/// Each feature standardized with its mean and standard deviation over every training step.
fn standardize<const F: usize>(train: &[Steps<F>], sets: [Vec<Steps<F>>; 2]) -> [Vec<Steps<F>>; 2] {
    let steps: Vec<&SVector<f32, F>> = train.iter().flatten().collect();
    let n = steps.len() as f32;
    let mean = steps.iter().fold(SVector::zeros(), |s, x| s + *x) / n;
    let variance = steps
        .iter()
        .fold(SVector::zeros(), |s: SVector<f32, F>, x| {
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

fn reversed<const F: usize>(set: &[Steps<F>]) -> Vec<Steps<F>> {
    set.iter()
        .map(|s| s.iter().rev().copied().collect())
        .collect()
}

/// Trains the ensemble of networks `N` (F features per step, C classes; sequence to one,
/// `softmax_cross_entropy`) and prints each member and the ensemble's test accuracy.
pub fn run<N, const F: usize, const C: usize>(
    ensemble: &Ensemble,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: SequenceNetwork<
            f32,
            F,
            C,
            Output = SVector<f32, C>,
            Target = SVector<f32, C>,
            BatchOutput = Batch<f32, C>,
            BatchTarget = Batch<f32, C>,
        > + Send
        + Sync,
{
    type Data<const F: usize, const C: usize> = SequenceDataset<f32, F, C>;
    let Ensemble {
        dataset,
        sequences,
        seed: first_seed,
        members,
    } = *ensemble;
    let (train_x, train_y) = read::<F>(dataset, "TRAIN")?;
    let (test_x, test_y) = read::<F>(dataset, "TEST")?;
    let [train_x, test_x] = standardize(&train_x, [train_x.clone(), test_x]);
    let forward = (
        Data::<F, C>::classification(train_x.clone(), &train_y)?,
        Data::<F, C>::classification(test_x.clone(), &test_y)?,
    );
    let backward = (
        Data::<F, C>::classification(reversed(&train_x), &train_y)?,
        Data::<F, C>::classification(reversed(&test_x), &test_y)?,
    );
    println!(
        "{dataset}: {} training and {} test {sequences}; {members} networks {} ({} parameters each)",
        forward.0.len(),
        forward.1.len(),
        N::ARCHITECTURE,
        N::PARAM_COUNT
    );

    let started = Instant::now();
    let mut nets = Vec::new();
    for member in 0..members {
        let seed = first_seed + member;
        let (train, test) = if member % 2 == 0 { &forward } else { &backward };
        let mut net: Box<N> = Init::default().seed(seed).build()?;
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
        nets.push(net);
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut correct = 0;
    for (i, &class) in test_y.iter().enumerate() {
        let probabilities =
            nets.iter()
                .enumerate()
                .fold(SVector::<f32, C>::zeros(), |sum, (member, net)| {
                    let data = if member % 2 == 0 {
                        &forward.1
                    } else {
                        &backward.1
                    };
                    sum + nn_runtime::activation::softmax(&net.forward(&data.sequences[i]))
                });
        correct += usize::from(probabilities.argmax().0 == class);
    }
    println!(
        "test accuracy: {:.4} ({correct}/{})  (training took {seconds:.2} s)",
        correct as f64 / test_y.len() as f64,
        test_y.len()
    );
    Ok(())
}
