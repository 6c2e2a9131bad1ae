//! Classifies 8×8 digit images with the digits model embedded in the binary at compile time:
//! nothing is read, parsed or allocated to get the model at run time.
//!
//! ```sh
//! cargo run --release --example digits -- examples/embed   # retrain: rewrites the weights file
//! cargo run --example embed -- images.txt                  # or images on stdin:
//! echo "0 0 5 13 9 1 0 0 …" | cargo run --example embed
//! ```
//!
//! One image per line: 64 pixel intensities, separated by commas or spaces (a 65th value, such
//! as a label column, is an error). Prints the predicted class and its probability per line.
//! Editing `examples/embed/digits.safetensors` rebuilds the example; a file that does not fit
//! `Digits` (a tensor missing, extra, misshapen or of another dtype) fails the build.

use std::io::{BufRead, BufReader};

use nn::digits::{Digits, FEATURES};
use nn_runtime::nalgebra::SVector;

nn_runtime::embed! {
    /// The trained digits model. The path is relative to the `Cargo.toml` of the crate whose
    /// example this is (the workspace root).
    static MODEL: Digits<f32> = "embed/digits.safetensors";
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input: Box<dyn BufRead> = match std::env::args_os().nth(1) {
        Some(path) => Box::new(BufReader::new(std::fs::File::open(path)?)),
        None => Box::new(std::io::stdin().lock()),
    };
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let pixels = parse_image(&line).map_err(|error| format!("line {}: {error}", number + 1))?;
        let probabilities = MODEL.predict(&pixels);
        let class = probabilities.imax();
        println!("{class} {:.4}", probabilities[class]);
    }
    Ok(())
}

/// The 64 pixels of a line, separated by commas or whitespace.
fn parse_image(line: &str) -> Result<SVector<f32, FEATURES>, String> {
    let values: Vec<&str> = line
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|value| !value.is_empty())
        .collect();
    if values.len() != FEATURES {
        return Err(format!(
            "{} values, but an image has {FEATURES} pixels",
            values.len()
        ));
    }
    let mut pixels = SVector::<f32, FEATURES>::zeros();
    for (pixel, value) in pixels.iter_mut().zip(values) {
        *pixel = value
            .parse()
            .map_err(|_| format!("`{value}` is not a number"))?;
    }
    Ok(pixels)
}
