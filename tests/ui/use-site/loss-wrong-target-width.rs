// `loss` takes a target of the output width (2); a 3-vector is a type error.
use nn_runtime::Parameters;
use nn_runtime::nalgebra::SVector;

nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(2),
        loss: mse,
    }
}

fn main() {
    let net = Net::<f32>::zeros();
    let x = SVector::<f32, 4>::zeros();
    let target = SVector::<f32, 3>::zeros();
    let _ = net.loss(&x, &target);
}
