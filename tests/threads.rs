//! Training steps inside a rayon pool: the batch products, the element-wise passes, the
//! optimizers' updates and the gradient clear split over its threads, and the weights stay bit
//! for bit those of one thread.

use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use nn_runtime::{Batch, Parameters, Real};

nn_runtime::network! {
    /// Wide enough that its batch products (256 × 256 × 40 multiply-adds) and its 256 × 256
    /// weight tensor (2¹⁶ elements) split over threads.
    pub struct Wide {
        input: 2,
        h1: dense(256, tanh),
        h2: dense(256, relu) + h1,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// At a batch of 256, every element-wise pass of its hidden layers (the bias added, the
    /// activation, its backward pass, the bias gradient: 256 × 256 = 2¹⁶ values) splits over
    /// threads.
    pub struct Passes {
        input: 4,
        h1: dense(256, tanh),
        h2: dense(256, leaky_relu(0.1)),
        h3: dense(256, gelu) + h1,
        h4: dense(256, relu),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

const BATCH: usize = 40;
const STEPS: usize = 4;

/// `STEPS` steps (clear the gradient, backward, update) on a fixed batch, inside `pool` if
/// given; the weights after them.
fn train<T: Real, O: Optimizer<T, Wide<T>> + Send>(
    pool: Option<&rayon::ThreadPool>,
    optimizer: &mut O,
) -> Box<Wide<T>> {
    let mut net: Box<Wide<T>> = Init::new(5).build().expect("init");
    let mut grad = Wide::<T>::boxed_zeros();
    let x = Batch::<T, 2>::from_fn(BATCH, |i, j| {
        T::constant(((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0)
    });
    let labels: Vec<usize> = (0..BATCH).map(|j| j % 3).collect();
    let mut steps = || {
        for _ in 0..STEPS {
            grad.fill(T::zero());
            let loss = net.backward_batch_labels(&x, &labels, &mut grad);
            assert!(loss.is_finite());
            optimizer.step(&mut *net, &grad);
        }
    };
    match pool {
        Some(pool) => pool.install(steps),
        None => steps(),
    }
    net
}

fn assert_same_bits<T: Real, N: Parameters<T>>(one: &N, two: &N, what: &str) {
    for (t, info) in N::TENSORS.iter().enumerate() {
        let bits =
            |net: &N| -> Vec<u64> { net.tensor(t).iter().map(|v| v.to_f64().to_bits()).collect() };
        assert!(
            bits(one) == bits(two),
            "{what}: {} differs between 1 and 2 threads",
            info.name
        );
    }
}

fn one_and_two_threads_train_the_same_weights<T: Real>() {
    const {
        assert!(256 * 256 * BATCH >= nn_runtime::linalg::PARALLEL_MIN_MACS);
        assert!(256 * 256 >= nn_runtime::linalg::PARALLEL_MIN_ELEMENTS);
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    let sgd = || {
        Sgd::<T, Wide<T>>::new(SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-3,
            ..SgdConfig::default()
        })
        .expect("a valid config")
    };
    let (one, two) = (train(None, &mut sgd()), train(Some(&pool), &mut sgd()));
    assert_same_bits(&*one, &*two, "sgd with momentum");
    let adam = || {
        Adam::<T, Wide<T>>::new(AdamConfig {
            lr: 0.01,
            ..Default::default()
        })
        .expect("a valid config")
    };
    let (one, two) = (train(None, &mut adam()), train(Some(&pool), &mut adam()));
    assert_same_bits(&*one, &*two, "adam");
    // The steps moved the weights: the comparison is not of untouched copies.
    let start: Box<Wide<T>> = Init::new(5).build().expect("init");
    assert!(one.tensor(2) != start.tensor(2));
}

#[test]
fn one_and_two_threads_train_the_same_weights_f32() {
    one_and_two_threads_train_the_same_weights::<f32>();
}

#[test]
fn one_and_two_threads_train_the_same_weights_f64() {
    one_and_two_threads_train_the_same_weights::<f64>();
}

/// Forward and backward of a 256-sample batch through `Passes`, outside a pool and inside a
/// two-thread one: the same outputs, loss and gradient, bit for bit.
fn element_wise_passes_split_bit_for_bit<T: Real>() {
    const { assert!(256 * 256 >= nn_runtime::linalg::PARALLEL_MIN_ELEMENTS) };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    let net: Box<Passes<T>> = Init::new(11).build().expect("init");
    let x = Batch::<T, 4>::from_fn(256, |i, j| {
        T::constant(((i * 5 + j * 7) % 13) as f64 / 4.0 - 1.5)
    });
    let labels: Vec<usize> = (0..256).map(|j| (j * 7) % 3).collect();
    let run = || {
        let mut grad = Passes::<T>::boxed_zeros();
        let loss = net.backward_batch_labels(&x, &labels, &mut grad);
        (net.forward_batch(&x), loss, grad)
    };
    let (y1, loss1, grad1) = run();
    let (y2, loss2, grad2) = pool.install(run);
    let bits = |v: &[T]| -> Vec<u64> { v.iter().map(|v| v.to_f64().to_bits()).collect() };
    assert!(
        bits(y1.as_slice()) == bits(y2.as_slice()),
        "forward_batch differs"
    );
    assert_eq!(loss1.to_f64().to_bits(), loss2.to_f64().to_bits());
    assert_same_bits(&*grad1, &*grad2, "backward_batch");
    // Every layer got a gradient: the comparison is not of zeros.
    for (t, info) in Passes::<T>::TENSORS.iter().enumerate() {
        assert!(
            grad1.tensor(t).iter().any(|g| *g != T::zero()),
            "{} has no gradient",
            info.name
        );
    }
}

#[test]
fn element_wise_passes_split_bit_for_bit_f32() {
    element_wise_passes_split_bit_for_bit::<f32>();
}

#[test]
fn element_wise_passes_split_bit_for_bit_f64() {
    element_wise_passes_split_bit_for_bit::<f64>();
}
