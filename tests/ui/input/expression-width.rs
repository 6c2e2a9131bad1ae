// A width is an integer literal, not an expression.
nn_runtime::network! {
    pub struct Net {
        input: 2 * 4,
        h1: dense(4 + 4, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
