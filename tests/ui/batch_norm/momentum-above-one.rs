// `momentum` is the weight of a batch in the running statistics: at most 1.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8),
        bn: batch_norm(relu, momentum = 1.5),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
