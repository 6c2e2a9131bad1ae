// The network declares no `input:` entry.
nn_runtime::network! {
    pub struct Net {
        h1: dense(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
