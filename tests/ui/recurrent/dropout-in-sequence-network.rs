// Dropout and batch norm are not generated for sequence networks (not even after the reduction).
nn_runtime::network! {
    pub struct Tagger {
        input: seq(4),
        r1: gru(8),
        drop: dropout(0.2),
        last: last,
        norm: batch_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
