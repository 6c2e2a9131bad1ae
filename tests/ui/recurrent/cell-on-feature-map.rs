// A recurrent cell reads a sequence, not a feature map.
nn_runtime::network! {
    pub struct Net {
        input: [2, 16],
        c1: conv1d(4, kernel = 3, relu),
        r1: gru(8),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
