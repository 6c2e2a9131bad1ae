// `eps = 1e-50` is a normal f64: the same network builds and runs with f64, without NaN.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        norm: layer_norm(eps = 1e-50),
        out: dense(1),
        loss: mse,
    }
}

fn main() {
    use nn_runtime::Parameters;
    let net = Net::<f64>::zeros();
    let y = net.forward(&nn_runtime::nalgebra::SVector::<f64, 4>::from_element(2.0));
    assert!(y[0].is_finite());
}
