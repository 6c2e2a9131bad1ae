// A convolution over a sequence must be causal (a stream has no future steps).
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        c1: conv1d(4, kernel = 3),
        r1: gru(8),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
