// The LeNet of issue 12: convolutions with relu applied as they store (`conv_relu`, no `z` kept;
// the backward reads relu′ off `h`), 2×2 max pools, the flatten into the dense head.
nn_runtime::network! {
    pub struct LeNet {
        input: [1, 28, 28],
        c1: conv2d(6, kernel = 5, relu),
        p1: max_pool(2),
        c2: conv2d(16, kernel = 5, relu),
        p2: max_pool(2),
        h1: dense(120, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}
