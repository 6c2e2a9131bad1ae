// A layer takes at most one activation; `dense(8, relu, tanh)` gives two.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu, tanh),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
