// The residual adds the sequence `r1` to the vector `out` that comes after the reduction.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gru(8),
        last: last,
        out: dense(8) + r1,
        loss: mse,
    }
}

fn main() {}
