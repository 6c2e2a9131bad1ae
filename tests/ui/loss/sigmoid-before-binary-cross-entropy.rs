// The output applies sigmoid, but binary_cross_entropy applies it itself.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1, sigmoid),
        loss: binary_cross_entropy,
    }
}

fn main() {}
