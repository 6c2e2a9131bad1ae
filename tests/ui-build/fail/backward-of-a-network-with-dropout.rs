// `backward` of a network with dropout: a gradient needs training mode, which takes a
// `Training` (`train_batch`); the per-sample gradient without one does not exist.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        drop: dropout(0.5),
        out: dense(1),
        loss: mse,
    }
}

fn main() {
    use nn_runtime::Parameters;
    let net = Net::<f32>::zeros();
    let mut grad = Net::<f32>::zeros();
    let x = nn_runtime::nalgebra::SVector::<f32, 4>::zeros();
    let y = nn_runtime::nalgebra::SVector::<f32, 1>::zeros();
    let _ = net.backward(&x, &y, &mut grad);
}
