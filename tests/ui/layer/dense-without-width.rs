// `dense` needs its width in parentheses.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
