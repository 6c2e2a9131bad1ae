// A width is an integer, not a float.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8.0, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
