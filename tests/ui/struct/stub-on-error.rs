// The declaration is wrong (unknown loss); the use of `Net` must not add "cannot find type".
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1),
        loss: hinge,
    }
}

fn take(_: Net) {}

fn main() {}
