// Two layers are named `h1`.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        h1: dense(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
