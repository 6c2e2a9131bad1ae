// Three different mistakes in three entries, all reported in one build.
nn_runtime::network! {
    pub struct Net {
        input: 0,
        h1: dense(8, rleu),
        h2: dense(8, relu) + h9,
        out: dense(1),
        loss: hinge,
    }
}

fn main() {}
