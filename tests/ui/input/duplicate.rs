// `input` is declared twice.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        input: 4,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
