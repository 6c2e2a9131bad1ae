// `h1` fails to parse (unknown activation); the residual from it must not add an "unknown layer" error.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, rleu),
        h2: dense(8, relu) + h1,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
