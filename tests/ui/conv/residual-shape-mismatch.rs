// The residual `c1` ([4, 6, 6]) and `c2` ([8, 6, 6]) differ in channels, and `c3`'s
// projection cannot change the size ([4, 6, 6] into [8, 4, 4]).
nn_runtime::network! {
    pub struct Net {
        input: [1, 8, 8],
        c1: conv2d(4, kernel = 3, relu),
        c2: conv2d(8, kernel = 3, padding = 1, relu) + c1,
        c3: conv2d(8, kernel = 3, relu) + project(c1),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
