// The pooling window 4 is longer than the signal it pools (length 3).
nn_runtime::network! {
    pub struct Net {
        input: [2, 7],
        c1: conv1d(4, kernel = 5, relu),
        p: max_pool(4),
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
