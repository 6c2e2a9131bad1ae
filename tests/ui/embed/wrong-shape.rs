// The file's `h1.weight` is [5, 2]; `Tiny`'s is [4, 2].
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
    static MODEL: Tiny<f32> = "files/wide.safetensors";
}

fn main() {
    let _ = &MODEL;
}
