// conv1d takes one kernel size, not a (height, width) pair.
nn_runtime::network! {
    pub struct Net {
        input: [2, 16],
        c1: conv1d(4, kernel = (1, 3)),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
