// `eps = 1e-50` is a normal f64 but 0 in f32: using the network with f32 fails to build.
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
    let net = Net::<f32>::zeros();
    let _ = net.forward(&nn_runtime::nalgebra::SVector::<f32, 4>::zeros());
}
