// Every tensor fits (2^28 elements each), but together they pass 2^30 elements at `h4`.
nn_runtime::network! {
    pub struct Net {
        input: 16384,
        h1: dense(16384),
        h2: dense(16384),
        h3: dense(16384),
        h4: dense(16384),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
