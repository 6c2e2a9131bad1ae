// An Elman cell's nonlinearity is `tanh` or `relu` (PyTorch's `nn.RNN`), not `sigmoid`.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: rnn(8, sigmoid),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
