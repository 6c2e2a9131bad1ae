// A sequence classifier: a GRU, an LSTM with a residual over time, the last step, a classifier.
nn_runtime::network! {
    pub struct Speaker {
        input: seq(3),
        r1: gru(4),
        r2: lstm(4) + r1,
        last: last,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}
