// `gru` runs over a sequence, but the input is a plain vector (`input: 12`, not `seq(12)`).
nn_runtime::network! {
    pub struct Net {
        input: 12,
        r1: gru(8),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
