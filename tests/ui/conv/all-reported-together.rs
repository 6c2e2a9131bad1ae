// Every mistake is reported in one build: a residual between feature maps of different
// shapes, a pooling window larger than its input, a `same` padding with stride 2 (a parse
// error), and in the second network a conv1d on an image and a layer norm on a feature map.
nn_runtime::network! {
    pub struct Net {
        input: [3, 6, 6],
        c1: conv2d(4, kernel = 3, relu),
        c2: conv2d(4, kernel = 3, padding = 1) + input,
        p: max_pool(5),
        c3: conv2d(2, kernel = 1, stride = 2, padding = same),
        out: dense(2),
        loss: mse,
    }
}

nn_runtime::network! {
    pub struct Other {
        input: [2, 5, 5],
        n: layer_norm,
        c1: conv1d(4, kernel = 3),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
