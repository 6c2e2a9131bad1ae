//! Memory guarantees: big networks never pass through the stack, the per-sample forward and
//! backward passes never touch the heap, and reading an IDX file costs what the file holds,
//! not what its header claims.

use std::path::PathBuf;

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Parameters, one_hot};

nn_runtime::network! {
    /// The classic MNIST MLP: 784-512-512-10, 2.7 MB of f32 parameters.
    pub struct Mnist {
        input: 784,
        h1: dense(512, relu),
        h2: dense(512, relu) + h1,
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// A small network with every kind of binding: residuals, projection, layer norm, softmax.
    pub struct Small {
        input: 8,
        h1: dense(16, gelu),
        h2: dense(16, tanh) + h1,
        h3: dense(12, softmax) + project(h1),
        norm: layer_norm(silu),
        out: dense(4),
        loss: binary_cross_entropy,
    }
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocations, peak_bytes};

/// The default stack of a spawned Rust thread (and of test threads): 2 MiB.
const TEST_THREAD_STACK: usize = 2 << 20;

// The parameters alone would not fit on the stack.
const _: () = assert!(Mnist::<f32>::PARAM_BYTES > TEST_THREAD_STACK);

#[test]
fn big_network_trains_inside_a_2_mib_stack() {
    let worker = std::thread::Builder::new()
        .stack_size(TEST_THREAD_STACK)
        .spawn(|| {
            let mut net = Mnist::<f32>::boxed_zeros();
            for t in 0..Mnist::<f32>::TENSORS.len() {
                for (i, w) in net.tensor_mut(t).iter_mut().enumerate() {
                    *w = ((i * 7919 + t * 104_729) % 1000) as f32 / 1000.0 * 0.1 - 0.05;
                }
            }
            let mut grad = Mnist::<f32>::boxed_zeros();
            let x = SVector::<f32, 784>::from_fn(|i, _| (i % 17) as f32 / 17.0);
            let y = one_hot::<f32, 10>(3);
            let loss = net.backward(&x, &y, &mut grad);
            let copy = net.boxed_copy();
            assert_eq!(copy.forward(&x), net.forward(&x));
            (loss, grad.tensor(0).iter().map(|g| g.abs()).sum::<f32>())
        });
    let (loss, grad_mass) = worker.expect("spawn").join().expect("no stack overflow");
    assert!(loss.is_finite() && loss > 0.0);
    assert!(grad_mass > 0.0, "the first layer received a gradient");
}

#[test]
fn per_sample_forward_and_backward_allocate_nothing() {
    let mut net = Small::<f32>::zeros();
    for t in 0..Small::<f32>::TENSORS.len() {
        for (i, w) in net.tensor_mut(t).iter_mut().enumerate() {
            *w = ((i * 31 + t * 7) % 11) as f32 / 11.0 - 0.5;
        }
    }
    let mut grad = Small::<f32>::zeros();
    let x = SVector::<f32, 8>::from_fn(|i, _| i as f32 * 0.1);
    let y = SVector::<f32, 4>::new(1.0, 0.0, 1.0, 0.0);

    assert_eq!(
        allocations(|| {
            std::hint::black_box(net.forward(&x));
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            std::hint::black_box(net.predict(&x));
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            std::hint::black_box(net.backward(&x, &y, &mut grad));
        }),
        0
    );
    // The counter works: a boxed gradient is one allocation.
    assert_eq!(
        allocations(|| {
            std::hint::black_box(Small::<f32>::boxed_zeros());
        }),
        1
    );
}

#[test]
fn a_training_step_on_one_sample_allocates_nothing() {
    use nn_runtime::optim::{Adam, AdamConfig, Optimizer};
    let mut net = Small::<f32>::zeros();
    let mut grad = Small::<f32>::zeros();
    // The optimizer allocates its state (two moment buffers) here, once.
    let mut adam = Adam::<f32, Small<f32>>::new(AdamConfig::default()).expect("a valid config");
    let x = SVector::<f32, 8>::from_fn(|i, _| i as f32 * 0.1 - 0.3);
    let y = SVector::<f32, 4>::new(1.0, 0.0, 0.0, 1.0);
    for _ in 0..3 {
        let count = allocations(|| {
            grad.fill(0.0);
            let loss = net.backward(&x, &y, &mut grad);
            adam.step(&mut net, &grad);
            std::hint::black_box(loss);
        });
        assert_eq!(count, 0);
    }
}

/// What reading a small IDX file may hold on the heap at once: the path, the decoder's
/// buffers and window (about 100 KiB for gzip), a first 64 KiB chunk of data.
const SMALL_READ_PEAK: usize = 1 << 20;

/// A gzipped IDX labels file with `dims` in its header and `zeros` bytes of data.
fn gzipped_labels(dir: &std::path::Path, name: &str, dims: &[u32], zeros: usize) -> PathBuf {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(&nn_runtime::idx::LABELS_MAGIC.to_be_bytes())
        .unwrap();
    for d in dims {
        encoder.write_all(&d.to_be_bytes()).unwrap();
    }
    let chunk = vec![0u8; 1 << 20];
    for start in (0..zeros).step_by(chunk.len()) {
        encoder
            .write_all(&chunk[..chunk.len().min(zeros - start)])
            .unwrap();
    }
    let path = dir.join(name);
    std::fs::write(&path, encoder.finish().unwrap()).unwrap();
    path
}

#[test]
fn an_idx_header_declaring_too_much_is_refused_before_reading() {
    let dir = std::env::temp_dir().join(format!("nn-memory-idx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 32 MB of zeros behind a header declaring 2^32 − 1 labels: about 32 KB gzipped, a bomb
    // that a reader trusting the header would decompress whole.
    let bomb = gzipped_labels(&dir, "bomb.gz", &[u32::MAX], 32 << 20);
    let (result, peak) = peak_bytes(|| nn_runtime::idx::read_labels(&bomb));
    let error = result.unwrap_err();
    assert!(
        matches!(error, nn_runtime::idx::IdxError::TooLarge { .. }),
        "{error}"
    );
    assert!(
        peak < SMALL_READ_PEAK,
        "held {peak} bytes to refuse a header"
    );

    // A header under the limit (2^31 − 1 bytes) over 1000 real bytes: the buffer grows with
    // what arrives, it is not sized from the header.
    let short = gzipped_labels(&dir, "short.gz", &[(1 << 31) - 1], 1000);
    let (result, peak) = peak_bytes(|| nn_runtime::idx::read_labels(&short));
    let error = result.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("truncated: 1008 bytes (decompressed)"),
        "{error}"
    );
    assert!(peak < SMALL_READ_PEAK, "held {peak} bytes to read 1000");
    std::fs::remove_dir_all(&dir).unwrap();
}

nn_runtime::network! {
    /// A streaming audio-style model: every cell, a residual, a per-step dense and a mean.
    pub struct Streaming {
        input: seq(2),
        r1: gru(8),
        r2: lstm(8) + r1,
        r3: rnn(4, relu),
        pool: mean,
        out: dense(1),
        loss: mse,
    }
}

nn_runtime::network! {
    /// LeNet-5 on MNIST's 28×28 images.
    pub struct Lenet {
        input: [1, 28, 28],
        c1: conv2d(6, kernel = 5, padding = 2, relu),
        p1: max_pool(2),
        c2: conv2d(16, kernel = 5, relu),
        p2: avg_pool(2),
        h1: dense(120, relu),
        h2: dense(84, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// The classic 32-64-channel MNIST network: its largest feature map is 32×28×28 (100 KiB
    /// of f32), and each pass keeps a dozen maps of that order on the stack.
    pub struct WideCnn {
        input: [1, 28, 28],
        c1: conv2d(32, kernel = 5, padding = 2, relu),
        p1: max_pool(2),
        c2: conv2d(64, kernel = 5, padding = 2, relu),
        p2: max_pool(2),
        h: dense(128, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

/// Fills every parameter from a formula, small enough to keep activations moderate.
fn fill<N: Parameters<f32>>(net: &mut N) {
    for t in 0..N::TENSORS.len() {
        for (i, w) in net.tensor_mut(t).iter_mut().enumerate() {
            *w = ((i * 7919 + t * 104_729) % 1000) as f32 / 1000.0 * 0.2 - 0.1;
        }
    }
}

/// Forward, backward and a fused SGD step of one sample, in a thread with `stack` bytes of
/// stack, in whatever build the tests run (debug keeps every temporary).
fn cnn_trains_inside<N: nn_runtime::Network<f32, 784, 10>>(stack: usize) -> (f32, f32) {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(|| {
            let mut net = N::boxed_zeros();
            fill(&mut *net);
            let mut grad = N::boxed_zeros();
            let x = SVector::<f32, 784>::from_fn(|i, _| (i % 17) as f32 / 17.0);
            let y = one_hot::<f32, 10>(3);
            let loss = net.backward(&x, &y, &mut grad);
            let before = net.forward(&x);
            net.sgd_step(&x, &y, 0.01);
            assert_ne!(net.forward(&x), before, "the step changed the network");
            (loss, grad.tensor(0).iter().map(|g| g.abs()).sum::<f32>())
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

/// Forward, backward and the fused step of both CNNs on a 2 MiB thread, in whatever build the
/// tests run: in a debug build the 32-64-channel network's backward pass holds about 1.7 MiB
/// of feature maps in its own frames (the forward record and the gradients), so the runtime's
/// functions below it must not add copies (measured: it still passes with 1.75 MiB).
#[test]
fn cnns_train_inside_a_small_stack() {
    let forward = std::thread::Builder::new()
        .stack_size(TEST_THREAD_STACK)
        .spawn(|| {
            let mut net = WideCnn::<f32>::boxed_zeros();
            fill(&mut *net);
            let x = SVector::<f32, 784>::from_fn(|i, _| (i % 17) as f32 / 17.0);
            net.forward(&x)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(forward.iter().all(|v| v.is_finite()));
    for (loss, grad_mass) in [
        cnn_trains_inside::<Lenet<f32>>(TEST_THREAD_STACK),
        cnn_trains_inside::<WideCnn<f32>>(TEST_THREAD_STACK),
    ] {
        assert!(loss.is_finite() && loss > 0.0);
        assert!(grad_mass > 0.0, "the first convolution received a gradient");
    }
}

#[test]
fn streaming_step_allocates_nothing() {
    let mut net = Streaming::<f32>::zeros();
    for t in 0..Streaming::<f32>::TENSORS.len() {
        for (i, w) in net.tensor_mut(t).iter_mut().enumerate() {
            *w = ((i * 31 + t * 7) % 11) as f32 / 11.0 - 0.5;
        }
    }
    let mut state = StreamingState::default();
    let x = SVector::<f32, 2>::new(0.3, -0.2);
    assert_eq!(
        allocations(|| {
            for _ in 0..100 {
                std::hint::black_box(net.step(&mut state, &x));
            }
            state.reset();
        }),
        0
    );
    assert_eq!(state.steps, 0);
    // The counter sees the sequence path's buffers: a whole-sequence forward does allocate.
    assert!(
        allocations(|| {
            std::hint::black_box(net.forward(&[x; 3]));
        }) > 0
    );
}

#[test]
fn per_sample_cnn_passes_allocate_nothing() {
    let mut net = Lenet::<f32>::boxed_zeros();
    fill(&mut *net);
    let mut grad = Lenet::<f32>::boxed_zeros();
    let pixels = [0.25f32; 784];
    let x = nn_runtime::conv::as_sample(&pixels);
    let y = one_hot::<f32, 10>(7);
    let forward = allocations(|| {
        std::hint::black_box(net.forward(x));
    });
    let predict = allocations(|| {
        std::hint::black_box(net.predict(x));
    });
    let backward = allocations(|| {
        std::hint::black_box(net.backward(x, &y, &mut grad));
    });
    let step = allocations(|| {
        std::hint::black_box(net.sgd_step(x, &y, 0.01));
    });
    assert_eq!((forward, predict, backward, step), (0, 0, 0, 0));
}
