//! Training steps inside a rayon pool: the batch products, the optimizers' updates and the
//! gradient clear split over its threads, and the weights stay bit for bit those of one thread.

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

fn assert_same_bits<T: Real>(one: &Wide<T>, two: &Wide<T>, what: &str) {
    for (t, info) in Wide::<T>::TENSORS.iter().enumerate() {
        let bits = |net: &Wide<T>| -> Vec<u64> {
            net.tensor(t).iter().map(|v| v.to_f64().to_bits()).collect()
        };
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
    assert_same_bits(&one, &two, "sgd with momentum");
    let adam = || {
        Adam::<T, Wide<T>>::new(AdamConfig {
            lr: 0.01,
            ..Default::default()
        })
        .expect("a valid config")
    };
    let (one, two) = (train(None, &mut adam()), train(Some(&pool), &mut adam()));
    assert_same_bits(&one, &two, "adam");
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
