// A misspelled `causal` on a sequence's conv1d: the unknown-option error lists `causal`.
nn_runtime::network! {
    pub struct Echo {
        input: seq(1),
        c: conv1d(4, kernel = 3, casual, tanh),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
