// `eps = 0` divides a constant feature by zero.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        bn: batch_norm(eps = 0.0),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
