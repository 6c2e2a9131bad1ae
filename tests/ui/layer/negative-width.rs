// A width is a positive integer; `-8` is negative.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(-8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
