// An input of width 0.
nn_runtime::network! {
    pub struct Net {
        input: 0,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
