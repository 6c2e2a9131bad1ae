// With dilation 3 the 3-tap kernel spans 7 samples, more than the signal padded by 1 (6).
nn_runtime::network! {
    pub struct Net {
        input: [1, 4],
        c1: conv1d(2, kernel = 3, dilation = 3, padding = 1),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
