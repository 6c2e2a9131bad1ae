// A streaming effect: a per-step dense layer, a causal convolution, a GRU, one output per step.
nn_runtime::network! {
    pub struct ConvGru {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}
