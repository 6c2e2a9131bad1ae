// `causal` is for a sequence input, not a fixed-length signal [C, L].
nn_runtime::network! {
    pub struct Net {
        input: [4, 16],
        c1: conv1d(8, kernel = 3, causal),
        pool: global_avg_pool,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
