// Training and inference modes: a dropout on the input and between layers, a batch norm with
// an activation, a residual around it.
nn_runtime::network! {
    pub struct Modes {
        input: 4,
        drop_in: dropout(0.2),
        h1: dense(8, relu),
        bn: batch_norm(tanh),
        drop: dropout(0.5),
        h2: dense(8, relu) + bn,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}
