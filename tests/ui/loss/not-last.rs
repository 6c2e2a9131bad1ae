// `loss` comes before a layer; it must be the last entry.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        loss: mse,
        out: dense(1),
    }
}

fn main() {}
