// The output applies softmax, but softmax_cross_entropy applies it itself.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(3, softmax),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
