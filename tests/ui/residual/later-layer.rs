// The residual adds `h2`, which comes after `h1`.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu) + h2,
        h2: dense(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
