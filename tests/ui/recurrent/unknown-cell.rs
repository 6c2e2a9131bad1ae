// `gur` is not a layer kind (a typo of `gru`).
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gur(8),
        last: last,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
