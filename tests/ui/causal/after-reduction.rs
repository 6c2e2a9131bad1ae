// A causal convolution after the reduction reads a vector, not a sequence.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gru(8),
        last: last,
        c1: conv1d(8, kernel = 3, causal),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
