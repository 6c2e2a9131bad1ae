// The streaming history of (kernel − 1) · dilation steps is too large for a fixed-size state.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(8, kernel = 3, dilation = 10000000, causal),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
