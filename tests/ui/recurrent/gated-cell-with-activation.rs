// A GRU's gates fix its nonlinearities: `gru` takes only its number of units.
nn_runtime::network! {
    pub struct Net {
        input: seq(4),
        r1: gru(8, relu),
        out: dense(1),
        loss: mse,
    }
}

fn main() {}
