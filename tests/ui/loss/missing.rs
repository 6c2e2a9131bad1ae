// The network declares no `loss:` entry.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1),
    }
}

fn main() {}
