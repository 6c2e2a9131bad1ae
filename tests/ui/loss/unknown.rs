// `hinge` is not a loss of the DSL.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        out: dense(1),
        loss: hinge,
    }
}

fn main() {}
