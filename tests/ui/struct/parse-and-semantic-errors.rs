// A parse error (`rleu`) and the semantic errors of the entries that parsed, in one build:
// softmax before softmax_cross_entropy and a residual width mismatch after the broken layer.
nn_runtime::network! {
    pub struct Net {
        input: 4,
        h1: dense(8, rleu),
        h2: dense(8, relu),
        h3: dense(6) + h2,
        out: dense(3, softmax),
        loss: softmax_cross_entropy,
    }
}

fn main() {}
