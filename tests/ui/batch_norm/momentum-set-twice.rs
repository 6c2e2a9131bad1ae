// An option given twice.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        bn: batch_norm(momentum = 0.1, momentum = 0.2),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
