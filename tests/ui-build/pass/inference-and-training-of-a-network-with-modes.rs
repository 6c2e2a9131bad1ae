// A network with dropout and batch norm builds for inference per sample and per batch, and for
// training through `train_batch` (the refused gradients are never instantiated).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        drop_in: dropout(0.1),
        bn: batch_norm(relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {
    use nn_runtime::{Network, Parameters, Training};
    let mut net = Net::<f32>::boxed_zeros();
    let mut grad = Net::<f32>::boxed_zeros();
    let _ = net.forward(&nn_runtime::nalgebra::SVector::<f32, 4>::zeros());
    let x = nn_runtime::Batch::<f32, 4>::zeros(3);
    let y = nn_runtime::Batch::<f32, 1>::zeros(3);
    let _ = net.predict_batch(&x);
    let _ = Network::train_batch(&mut *net, &x, &y, &mut grad, &mut Training::seeded(1));
}
