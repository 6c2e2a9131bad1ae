// `again` reduces a value that `last` already reduced to a vector.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: rnn(8),
        last: last,
        again: mean,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
