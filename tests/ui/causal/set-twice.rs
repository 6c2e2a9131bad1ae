// `causal` is written twice.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(8, kernel = 3, causal, causal),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
