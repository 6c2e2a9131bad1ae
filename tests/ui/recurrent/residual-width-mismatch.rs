// The residual `r1` (16 units per step) is added to `r2` (32) without `project`.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gru(16),
        r2: lstm(32) + r1,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
