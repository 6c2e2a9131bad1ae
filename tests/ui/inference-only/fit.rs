// An inference-only network (declared without `loss:`) is given to `fit`, which trains
// networks: it does not implement `Network`.
use nn_runtime::data::Dataset;
use nn_runtime::optim::{Sgd, SgdConfig};
use nn_runtime::train::{TrainConfig, fit};
use nn_runtime::Parameters;

nn_runtime::network! {
    pub struct Net {
        input: 2,
        out: dense(2, softmax),
    }
}

fn main() {
    let mut net = Net::<f32>::zeros();
    let data = Dataset::<f32, 2, 2>::classification(&[[0.0, 1.0]], &[1]).unwrap();
    let mut sgd = Sgd::<f32, Net<f32>>::new(SgdConfig::default()).unwrap();
    let _ = fit(&mut net, &mut sgd, &data, None, &TrainConfig::default());
}
