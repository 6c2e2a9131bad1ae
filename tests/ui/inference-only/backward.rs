// An inference-only network (declared without `loss:`) has no training methods: `backward`
// and `sgd_step` are used on one.
use nn_runtime::Parameters;
use nn_runtime::nalgebra::SVector;

nn_runtime::network! {
    pub struct Net {
        input: 4,
        h: dense(8, relu),
        out: dense(2, softmax),
    }
}

fn main() {
    let mut net = Net::<f32>::zeros();
    let mut grad = Net::<f32>::zeros();
    let x = SVector::from([1.0, 2.0, 3.0, 4.0]);
    let _ = net.predict(&x);
    net.backward(&x, &SVector::from([1.0, 0.0]), &mut grad);
    net.sgd_step(&x, &SVector::from([1.0, 0.0]), 0.1);
}
