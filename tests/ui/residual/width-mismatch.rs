// The residual `h1` (width 8) is added to `h2` (width 16) without `project`.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        h2: dense(16, relu) + h1,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
