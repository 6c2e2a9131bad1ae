//! XOR, the function no single perceptron computes, two ways:
//!
//! 1. built by hand from threshold (`step`) units with fixed weights, the classic construction:
//!    an OR unit and an AND unit, then an output unit "OR and not AND";
//! 2. learned by a 2-8-1 tanh network (sigmoid + binary cross-entropy, Adam, full batch) from
//!    a fixed seed.
//!
//! Both truth tables are printed; `tests/examples.rs` pins them.
//!
//! ```sh
//! cargo run --example xor
//! ```

use nn::xor::{self, INPUTS, XOR, XorByHand, XorLearned};
use nn_runtime::nalgebra::SVector;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "XOR by hand: {}",
        <XorByHand as nn_runtime::Parameters<f32>>::ARCHITECTURE
    );
    println!("  OR  = step(a + b − 0.5), AND = step(a + b − 1.5), out = step(OR − AND − 0.5)");
    let net = xor::by_hand();
    println!("   a  b | OR AND | out | a XOR b");
    for (input, expected) in INPUTS.iter().zip(XOR) {
        let x = SVector::from(*input);
        let hidden = xor::hidden_units(&net, &x);
        let out = net.forward(&x)[0];
        println!(
            "   {}  {} |  {}   {} |  {}  |   {}",
            input[0], input[1], hidden[0], hidden[1], out, expected
        );
    }

    println!();
    println!(
        "XOR learned: {}",
        <XorLearned as nn_runtime::Parameters<f32>>::ARCHITECTURE
    );
    println!(
        "  Adam lr {}, full batch, {} epochs, seed {}",
        xor::LEARNING_RATE,
        xor::EPOCHS,
        xor::SEED
    );
    let learned = xor::learn(xor::SEED)?;
    match learned.epochs_to_perfect() {
        Some(epoch) => println!("  100% of the four points right after epoch {epoch}"),
        None => println!("  never got all four points right"),
    }
    let last = learned
        .history
        .epochs
        .last()
        .map_or(f64::NAN, |s| s.train.loss);
    println!(
        "  after {} epochs: accuracy {:.0}%, loss {last:.4}",
        xor::EPOCHS,
        100.0 * learned.final_accuracy()
    );
    println!("   a  b | P(1)   | out | a XOR b");
    for (input, expected) in INPUTS.iter().zip(XOR) {
        let p = learned.net.predict(&SVector::from(*input))[0];
        println!(
            "   {}  {} | {p:.4} |  {}  |   {}",
            input[0],
            input[1],
            u8::from(p > 0.5),
            expected
        );
    }
    Ok(())
}
