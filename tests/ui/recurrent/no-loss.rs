// A sequence network without a loss (inference-only sequence networks are not generated yet).
nn_runtime::network! {
    pub struct Listener {
        input: seq(4),
        r1: gru(8),
        last: last,
        out: dense(3),
    }
}

fn main() {}
