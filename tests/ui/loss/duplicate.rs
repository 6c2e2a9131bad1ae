// `loss` is declared twice.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1),
        loss: mse,
        loss: mse,
    }
}

fn main() {}
