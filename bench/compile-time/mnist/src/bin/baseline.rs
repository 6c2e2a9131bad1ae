//! Compile-time baseline: the same dependencies, no network. Its incremental build time is
//! what the unchanged dependency graph and linking cost (see bench/compile-time/README.md).

use nn_runtime::{Batch, one_hot_batch};

fn main() {
    let labels: Vec<usize> = (0..32).map(|j| j % 10).collect();
    let y = one_hot_batch::<f32, 10>(&labels);
    let x = Batch::<f32, 784>::from_element(32, 0.5);
    println!("{} {}", y.sum(), x.sum());
}
