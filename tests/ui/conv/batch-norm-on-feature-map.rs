// Batch norm over the channels of a feature map (PyTorch's BatchNorm2d) is not generated yet.
nn_runtime::network! {
    pub struct Net {
        input: [2, 8, 8],
        c1: conv2d(4, kernel = 3, relu),
        bn: batch_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
