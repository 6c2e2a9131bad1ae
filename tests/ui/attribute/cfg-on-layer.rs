// `#[cfg]` on a layer cannot remove it: the layers after it are checked against its width.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        #[cfg(feature = "wide")]
        wide: dense(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
