// A dense layer of width 0.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(0, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
