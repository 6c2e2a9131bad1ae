// A probability cannot be negative.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        drop: dropout(-0.1),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
