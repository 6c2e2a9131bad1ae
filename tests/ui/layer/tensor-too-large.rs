// A weight of 2^24 x 2^24 elements (1 PiB of f32) is refused, at the layer.
nn_runtime::network! {
    pub struct Net {
        input: 16777216,
        huge: dense(16777216),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
