// An inference-only network: no `loss:`, so forward, predict and their batch forms, and
// training methods that are compile errors.
nn_runtime::network! {
    pub struct Scorer {
        input: 3,
        h: dense(4, relu),
        out: dense(2, softmax),
    }
}
