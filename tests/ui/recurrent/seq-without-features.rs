// `seq` needs the number of features per step: `seq(12)`.
nn_runtime::network! {
    pub struct Net {
        input: seq,
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
