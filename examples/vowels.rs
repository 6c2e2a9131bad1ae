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

use nn::ensemble::{self, Ensemble};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ensemble::run::<Vowels<f32>, 12, 9>(&Ensemble {
        dataset: "JapaneseVowels",
        sequences: "utterances",
        seed: 7,
        members: 6,
    })
}
