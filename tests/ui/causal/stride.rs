// A causal convolution gives one output per step: its stride is 1.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(8, kernel = 3, stride = 2, causal),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
