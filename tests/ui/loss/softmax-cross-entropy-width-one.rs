// softmax_cross_entropy on a single output (width 1).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
