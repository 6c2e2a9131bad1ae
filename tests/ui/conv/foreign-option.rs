// `eps` belongs to `layer_norm`, `padding` to the convolutions, and the kernel of a
// convolution is named, not positional.
nn_runtime::network! {
    pub struct Net {
        input: [1, 8, 8],
        c1: conv2d(4, kernel = 3, eps = 1e-5),
        p: max_pool(2, padding = 1),
        c2: conv2d(4, 3),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
