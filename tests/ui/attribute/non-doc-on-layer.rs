// Attributes other than doc comments on a layer would be dropped: they are refused.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        /// Documented: fine.
        #[allow(dead_code)]
        #[serde(skip)]
        h1: dense(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
