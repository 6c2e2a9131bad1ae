// A classifier on a sequence without `last` or `mean`: softmax_cross_entropy needs one output per sequence.
nn_runtime::network! {
    pub struct Net {
        input: seq(12),
        r1: gru(8),
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
