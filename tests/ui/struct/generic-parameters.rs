// A network takes no generic parameters; `T` is added by the macro.
nn_runtime::network! {
    pub struct Net<T> {
        input: 4,
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
