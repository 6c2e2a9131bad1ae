// A width is written without a type suffix (`64u8`).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(64u8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
