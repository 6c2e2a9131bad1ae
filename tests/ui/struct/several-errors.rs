// Four mistakes in four entries (zero width, unknown residual source, unknown activation,
// unknown loss), all reported in one build.
nn_runtime::network! {
    pub struct Net {
        input: 0,
        h1: dense(8, relu),
        h2: dense(8, relu) + h9,
        h3: dense(8, rleu),
        out: dense(1),
        loss: hinge,
    }
}

fn main() {}
