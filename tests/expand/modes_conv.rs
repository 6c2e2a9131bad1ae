// Batch norm over channels: BatchNorm1d after a convolution, `[3, 6]` statistics per channel
// over the batch and the 6 positions.
nn_runtime::network! {
    pub struct ChannelNorm {
        input: [2, 8],
        c1: conv1d(3, kernel = 3, bias = false),
        bn: batch_norm(relu),
        out: dense(2),
        loss: mse,
    }
}
