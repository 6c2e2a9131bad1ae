// `dens` is not a layer kind (a typo of `dense`).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dens(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
