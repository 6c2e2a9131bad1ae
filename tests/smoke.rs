use nn_runtime::nalgebra::SVector;
use nn_runtime::{Network, Parameters};

nn_runtime::network! {
    /// A test network.
    #[derive(Clone, Debug)]
    pub struct Mixed {
        input: 4,
        h1: dense(8, tanh),
        h2: dense(8, relu) + h1,
        h3: dense(6, gelu) + project(h1),
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

#[test]
fn smoke() {
    let mut net = Mixed::<f64>::zeros();
    for i in 0..Mixed::<f64>::TENSORS.len() {
        for (j, v) in net.tensor_mut(i).iter_mut().enumerate() {
            *v = ((i * 31 + j * 17) % 13) as f64 / 13.0 - 0.5;
        }
    }
    let x = SVector::<f64, 4>::new(0.1, -0.2, 0.3, 0.4);
    let y = SVector::<f64, 3>::new(0.0, 1.0, 0.0);
    let report = nn_runtime::check_gradient(&mut net, &x, &y);
    println!("{report:?}");
    assert!(report.max_relative_error < 1e-6);
    let _ = net.predict(&x);
}
