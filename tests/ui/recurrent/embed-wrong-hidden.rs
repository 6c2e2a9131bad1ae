// The file holds a GRU of 4 units (`r1.weight_ih_l0` is [12, 3]); the network declares 5.
nn_runtime::network! {
    pub struct Speaker {
        input: seq(3),
        r1: gru(5),
        r2: gru(5) + r1,
        pool: mean,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

// Relative to this file, as for `include_bytes!`.
nn_runtime::embed! {
    static MODEL: Speaker<f64> = "../../fixtures/recurrent/gru_classifier.safetensors";
}

fn main() {
    let _ = &MODEL;
}
