// A convolution needs a feature map, but the input is a vector; and conv1d on an image.
nn_runtime::network! {
    pub struct Net {
        input: 64,
        c1: conv2d(4, kernel = 3),
        out: dense(2),
        loss: mse,
    }
}

nn_runtime::network! {
    pub struct Other {
        input: [1, 8, 8],
        c1: conv1d(4, kernel = 3),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
