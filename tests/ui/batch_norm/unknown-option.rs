// `affine` is a PyTorch argument this layer does not take (γ and β are always learned).
nn_runtime::network! {
    pub struct Net {
        input: 4,
        bn: batch_norm(affine = false),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
