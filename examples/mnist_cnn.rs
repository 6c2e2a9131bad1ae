//! MNIST with a convolutional network: two 5×5 convolutions with max pooling, then a dense
//! layer, trained on the 60 000 training images; reports accuracy on the 10 000 test images,
//! with the wall time. Each image is read as the `[1, 28, 28]` feature map it is: the 784
//! pixels row by row, PyTorch's C×H×W order, so the dataset of `examples/mnist` serves as is.
//!
//! The four IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain or gzipped) are not in the
//! repository; point the example at a directory that holds them:
//!
//! ```sh
//! cargo run --release --example mnist_cnn -- path/to/mnist     # writes target/mnist/mnist_cnn.safetensors
//! cargo run --release --example mnist_cnn -- path/to/mnist --threads 1 --seed 3 --epochs 4
//! ```
//!
//! 4 epochs of Adam (batch 64, learning rate 2e-3 cosine-decayed to 0) from pixels scaled to
//! `[0, 1]`, on two threads, in one `fit_with` call whose callback prints each epoch; see the
//! README's "Convolutional networks" for the accuracy and time measured.

use std::process::ExitCode;

use nn::mnist::example::{self, Example};

nn_runtime::network! {
    /// Classifies 28×28 digit images (one channel, pixels in `[0, 1]`) into 0–9.
    pub struct MnistCnn {
        input: [1, 28, 28],
        c1: conv2d(16, kernel = 5, relu),   // [16, 24, 24]
        p1: max_pool(2),                    // [16, 12, 12]
        c2: conv2d(32, kernel = 5, relu),   // [32, 8, 8]
        p2: max_pool(2),                    // [32, 4, 4], flattened into `out`
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

fn main() -> ExitCode {
    example::main::<MnistCnn<f32>>(Example {
        name: "mnist_cnn",
        epochs: 4,
        threads: 2,
    })
}
