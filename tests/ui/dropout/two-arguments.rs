// `dropout` takes its probability only, not an activation.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        drop: dropout(0.5, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
