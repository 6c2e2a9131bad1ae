// A residual adds steps of the same width: 6 channels plus 4.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(4, kernel = 2, causal, tanh),
        c2: conv1d(6, kernel = 3, dilation = 2, causal) + c1,
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
