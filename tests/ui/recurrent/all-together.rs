// Three mistakes, all reported in one build: a cell on a vector input, a residual across
// widths, and a classifier on a sequence without a reduction.
nn_runtime::network! {
    pub struct Net {
        input: 6,
        r1: lstm(8),
        r2: gru(4) + r1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
