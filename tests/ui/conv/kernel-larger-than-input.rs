// `c2`'s 5×5 kernel does not fit its 4×4 input (no padding): no output position remains.
nn_runtime::network! {
    pub struct Net {
        input: [1, 8, 8],
        c1: conv2d(4, kernel = 5, relu),
        c2: conv2d(8, kernel = 5),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
