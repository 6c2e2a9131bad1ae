// `dropout` without its probability: PyTorch's default of 0.5 is not assumed.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        drop: dropout,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
