// `bias` is set twice on one layer.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu, bias = false, bias = true),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
