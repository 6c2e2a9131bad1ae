// The residual `+` has no source before the comma.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(4, relu) +,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
