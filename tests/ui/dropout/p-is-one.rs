// `dropout(1.0)` would drop every value (and scale the rest by 1/0): p must be below 1.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        drop: dropout(1.0),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
