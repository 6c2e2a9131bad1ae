// The residual adds `h9`, which is no layer.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        h2: dense(8, relu) + h9,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
