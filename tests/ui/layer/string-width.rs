// A width is an integer literal, not a string.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense("8", relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
