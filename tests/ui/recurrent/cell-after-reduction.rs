// `r2` comes after the reduction `last`, so its input is a vector, not a sequence.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gru(8),
        last: last,
        r2: lstm(8),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
