// The file is CSV, not safetensors.
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
    static MODEL: Tiny<f32> = "files/not-safetensors.safetensors";
}

fn main() {
    let _ = &MODEL;
}
