// The network cannot be named `T`: the generated struct takes a scalar type parameter `T`.
nn_runtime::network! {
    pub struct T {
        input: 2,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
