// `dense` has no option `bais` (a typo of `bias`).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu, bais = false),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
