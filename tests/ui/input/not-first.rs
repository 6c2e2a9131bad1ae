// `input` comes after a layer; it must be the first entry.
nn_runtime::network! {
    pub struct Net {
        h1: dense(8, relu),
        input: 4,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
