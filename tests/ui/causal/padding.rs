// A causal convolution pads the past itself: `padding` is refused.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(8, kernel = 3, padding = 2, causal),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
