// The width does not fit in `usize` (nor in any array).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(99999999999999999999999, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
