//! Compile-time benchmark: the 784-512-512-10 MNIST MLP, used as a user would (one training
//! step on a random batch, a prediction, a weights file), so all the generated code is codegen'd.

use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
use nn_runtime::{Batch, Parameters, one_hot, one_hot_batch};

nn_runtime::network! {
    /// The classic MNIST MLP.
    pub struct Mnist {
        input: 784,
        h1: dense(512, relu),
        h2: dense(512, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net: Box<Mnist> = Init::new(42).build()?;
    let mut grad = Mnist::<f32>::boxed_zeros();
    let mut adam = Adam::new(AdamConfig::default())?;

    let batch = 32;
    let x = Batch::<f32, 784>::from_fn(batch, |i, j| ((i * 7 + j * 13) % 256) as f32 / 255.0);
    let labels: Vec<usize> = (0..batch).map(|j| j % 10).collect();
    let y = one_hot_batch::<f32, 10>(&labels);

    let loss = net.backward_batch(&x, &y, &mut grad);
    adam.step(&mut *net, &grad);
    let after = net.loss_batch(&x, &y);
    let x0 = x.column(0).into_owned();
    grad.fill(0.0);
    let sample_loss = net.backward(&x0, &one_hot(labels[0]), &mut grad);
    adam.step(&mut *net, &grad);
    let p = net.predict(&x0);
    let logits = net.forward_batch(&x);
    let correct = (0..batch)
        .filter(|&j| logits.column(j).imax() == labels[j])
        .count();
    println!("sample loss {sample_loss}, {correct}/{batch} correct");
    println!("loss {loss} -> {after}, p[0] = {}", p[0]);

    let path = std::env::temp_dir().join("nn-compile-mnist.safetensors");
    nn_runtime::io::save(&*net, &path)?;
    let _ = std::fs::remove_file(&path);
    Ok(())
}
