// A layer norm's `eps` must be positive.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        norm: layer_norm(eps = 0.0),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
