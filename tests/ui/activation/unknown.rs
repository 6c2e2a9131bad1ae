// `rleu` is not an activation (a typo of `relu`).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, rleu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
