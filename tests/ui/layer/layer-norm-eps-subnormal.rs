// A layer norm's `eps` of 1e-310 is subnormal even in f64 (and 1e-400 rounds to 0).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        norm: layer_norm(eps = 1e-310),
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::network! {
    pub struct Zero {
        input: 4,
        norm: layer_norm(eps = 1e-400),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
