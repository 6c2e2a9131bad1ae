// Only `conv1d` can be causal.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv2d(8, kernel = 3, causal),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
