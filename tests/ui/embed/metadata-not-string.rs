// The file's `__metadata__` holds a number (`"epochs": 10`); safetensors metadata are strings.
nn_runtime::network! {
    pub struct Tiny {
        input: 2,
        h1: dense(4, relu),
        out: dense(1),
        loss: mse,
    }
}

// Relative to the crate's `Cargo.toml`: trybuild's crate is `target/tests/trybuild/nn`.
nn_runtime::embed! {
    static MODEL: Tiny<f32> = "files/epochs.safetensors";
}

fn main() {
    let _ = &MODEL;
}
