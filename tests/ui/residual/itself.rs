// The residual adds the layer's own output.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, relu),
        h2: dense(8, relu) + h2,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
