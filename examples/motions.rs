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

use nn::ensemble::{self, Ensemble};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ensemble::run::<Motions<f32>, 6, 4>(&Ensemble {
        dataset: "BasicMotions",
        sequences: "series",
        seed: 7,
        members: 4,
    })
}
