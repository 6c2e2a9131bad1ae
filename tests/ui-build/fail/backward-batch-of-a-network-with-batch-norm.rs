// `backward_batch` of a network with batch norm, through the `Network` trait: refused the
// same way; `train_batch` is the batch gradient in training mode.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        bn: batch_norm,
        out: dense(1),
        loss: mse,
    }
}

fn gradient<N: nn_runtime::Network<f64, 4, 1>>(net: &N, grad: &mut N) -> f64 {
    let x = nn_runtime::Batch::<f64, 4>::zeros(2);
    let y = nn_runtime::Batch::<f64, 1>::zeros(2);
    net.backward_batch(&x, &y, grad)
}

fn main() {
    use nn_runtime::Parameters;
    let net = Net::<f64>::boxed_zeros();
    let mut grad = Net::<f64>::boxed_zeros();
    let _ = gradient(&*net, &mut *grad);
}
