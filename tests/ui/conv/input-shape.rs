// An input shape has two or three dimensions, none of them 0.
nn_runtime::network! {
    pub struct Net {
        input: [1, 2, 3, 4],
        out: dense(2),
        loss: mse,
    }
}

nn_runtime::network! {
    pub struct Zero {
        input: [1, 0, 3],
        out: dense(2),
        loss: mse,
    }
}

fn main() {}
