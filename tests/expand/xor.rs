// The smallest useful network: one hidden layer, one output, mean squared error.
nn_runtime::network! {
    pub struct Xor {
        input: 2,
        hidden: dense(2, sigmoid),
        out: dense(1),
        loss: mse,
    }
}
