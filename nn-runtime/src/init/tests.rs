//! Tests of the initializers: moments of each scheme, defaults, reproducibility, overrides.

use super::*;

crate::network! {
    /// `h: dense(512, relu)` over 784 inputs, `norm: layer_norm`, `out: dense(10, tanh)`: the
    /// size of an MNIST hidden layer, large enough for tight moment estimates.
    struct MlpNet {
        input: 784,
        h: dense(512, relu),
        norm: layer_norm,
        out: dense(10, tanh),
        loss: mse,
    }
}
type Mlp = MlpNet<f64>;

crate::network! {
    /// The same layer `h` in `f32`, to compare the rounding path.
    struct SmallNet {
        input: 784,
        h: dense(512, relu),
        loss: mse,
    }
}
type Small32 = SmallNet<f32>;

/// Elements of `h.weight`.
const N: f64 = (512 * 784) as f64;

/// Tolerances in standard errors of the estimate. The draws are fixed by the seed, so a
/// test passes or fails deterministically; 5 standard errors would be exceeded by chance
/// with probability ~6e-7, so a failure means the formula or the sampler is wrong.
const SIGMAS: f64 = 5.0;

/// Sample mean, variance (biased, `n` in the denominator) and kurtosis `m₄/m₂²`.
fn moments(values: &[f64]) -> (f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let m2 = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m4 = values.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
    (mean, m2, m4 / (m2 * m2))
}

/// Checks that `values` look drawn from a distribution with this mean, variance and
/// kurtosis (3 for a normal, 9/5 for a uniform), each within `SIGMAS` standard errors:
/// `SE(mean) = σ/√n`, `SE(s²) = σ²·√((κ − 1)/n)`, `SE(kurtosis) ≈ √(24/n)` for a normal
/// (smaller for a uniform, so this bound is loose there).
fn assert_moments(values: &[f64], mean: f64, variance: f64, kurtosis: f64) {
    let n = values.len() as f64;
    let (m, v, k) = moments(values);
    let se_mean = (variance / n).sqrt();
    let se_var = variance * ((kurtosis - 1.0) / n).sqrt();
    let se_kurt = (24.0 / n).sqrt();
    assert!(
        (m - mean).abs() < SIGMAS * se_mean,
        "mean {m}, expected {mean} ± {}",
        SIGMAS * se_mean
    );
    assert!(
        (v - variance).abs() < SIGMAS * se_var,
        "variance {v}, expected {variance} ± {}",
        SIGMAS * se_var
    );
    assert!(
        (k - kurtosis).abs() < SIGMAS * se_kurt,
        "kurtosis {k}, expected {kurtosis}"
    );
}

const NORMAL_KURTOSIS: f64 = 3.0;
const UNIFORM_KURTOSIS: f64 = 9.0 / 5.0;

fn weight_with(scheme: Scheme) -> Box<Mlp> {
    Init::new(7).weights(scheme).build::<f64, Mlp>().unwrap()
}

#[test]
fn xavier_uniform_variance_is_2_over_fan_sum() {
    let net = weight_with(Scheme::XavierUniform(Gain::Value(1.0)));
    let w = net.h.weight.as_slice();
    assert_moments(w, 0.0, 2.0 / (784.0 + 512.0), UNIFORM_KURTOSIS);
    let a = (6.0f64 / (784.0 + 512.0)).sqrt();
    assert!(w.iter().all(|v| v.abs() <= a));
    // The extremes come within a ~1/n fraction of the bound.
    assert!(w.iter().fold(0.0f64, |m, v| m.max(v.abs())) > a * (1.0 - 20.0 / N));
}

#[test]
fn xavier_normal_variance_is_gain2_times_2_over_fan_sum() {
    let net = weight_with(Scheme::XavierNormal(Gain::Value(0.5)));
    assert_moments(
        net.h.weight.as_slice(),
        0.0,
        0.25 * 2.0 / (784.0 + 512.0),
        NORMAL_KURTOSIS,
    );
}

#[test]
fn kaiming_normal_variance_is_2_over_fan_in_for_relu() {
    let net = weight_with(Scheme::KaimingNormal(Gain::Activation));
    assert_moments(net.h.weight.as_slice(), 0.0, 2.0 / 784.0, NORMAL_KURTOSIS);
}

#[test]
fn kaiming_uniform_variance_is_gain2_over_fan_in() {
    let net = weight_with(Scheme::KaimingUniform(Gain::Activation));
    let w = net.h.weight.as_slice();
    assert_moments(w, 0.0, 2.0 / 784.0, UNIFORM_KURTOSIS);
    assert!(w.iter().all(|v| v.abs() <= (6.0f64 / 784.0).sqrt()));
}

#[test]
fn uniform_and_normal_match_their_parameters() {
    let net = weight_with(Scheme::Uniform(0.3));
    assert_moments(net.h.weight.as_slice(), 0.0, 0.09 / 3.0, UNIFORM_KURTOSIS);
    let net = weight_with(Scheme::Normal {
        mean: -0.2,
        std: 0.05,
    });
    assert_moments(net.h.weight.as_slice(), -0.2, 0.0025, NORMAL_KURTOSIS);
}

#[test]
fn defaults_follow_the_table() {
    let net = Init::new(3).build::<f64, Mlp>().unwrap();
    // h: relu → Kaiming normal, var 2/784.
    assert_moments(net.h.weight.as_slice(), 0.0, 2.0 / 784.0, NORMAL_KURTOSIS);
    assert!(net.h.bias.iter().all(|b| *b == 0.0));
    assert!(net.norm.weight.iter().all(|g| *g == 1.0));
    assert!(net.norm.bias.iter().all(|b| *b == 0.0));
    // out: tanh → Xavier uniform with gain 5/3, a = 5/3·√(6/522).
    let a = 5.0 / 3.0 * (6.0f64 / 522.0).sqrt();
    assert!(net.out.weight.iter().all(|w| w.abs() <= a));
    assert!(net.out.weight.iter().any(|w| w.abs() > 0.9 * a));
    assert_eq!(
        Init::default()
            .scheme_for(&Mlp::TENSORS[4])
            .resolve(&Mlp::TENSORS[4]),
        Draw::Uniform { a }
    );
}

#[test]
fn gains_match_pytorch_calculate_gain() {
    // torch.nn.init.calculate_gain('leaky_relu', 0.2) = √(2/1.04) = 1.3867504905630728
    assert_eq!(
        gain(ActivationKind::LeakyRelu { slope: 0.2 }),
        1.386_750_490_563_072_8
    );
    assert_eq!(gain(ActivationKind::Sigmoid), 1.0);
    assert_eq!(gain(ActivationKind::Identity), 1.0);
    assert_eq!(gain(ActivationKind::Gelu), 2f64.sqrt());
}

#[test]
fn same_seed_is_bit_identical_and_other_seeds_differ() {
    let init = Init::new(42).biases(Scheme::Uniform(1.0));
    let a = init.build::<f64, Mlp>().unwrap();
    let b = init.build::<f64, Mlp>().unwrap();
    for index in 0..Mlp::TENSORS.len() {
        let bits = |net: &Mlp| {
            net.tensor(index)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a), bits(&b), "{}", Mlp::TENSORS[index].name);
    }
    let c = init.clone().seed(43).build::<f64, Mlp>().unwrap();
    assert!(
        a.h.weight
            .iter()
            .zip(c.h.weight.iter())
            .all(|(x, y)| x != y)
    );
    assert!(a.h.bias.iter().zip(c.h.bias.iter()).all(|(x, y)| x != y));
    // Different tensors of one network get different streams.
    assert_ne!(a.h.bias[0], a.out.bias[0]);
}

/// Pins the documented algorithm (ChaCha8 stream per tensor name, Box–Muller over libm,
/// rand_distr's uniform): these values must never change, on any platform. They were
/// reproduced bit for bit by an independent from-scratch Python implementation of the
/// module docs (ChaCha8, rand_core's PCG32 seed expansion, FNV-1a, Box–Muller).
#[test]
fn seed_42_gives_pinned_values() {
    let net = Init::new(42)
        .biases(Scheme::Uniform(1.0))
        .build::<f64, Mlp>()
        .unwrap();
    let head: [f64; 3] = [net.h.weight[0], net.h.weight[1], net.h.weight[2]];
    let bias: [f64; 2] = [net.h.bias[0], net.h.bias[1]];
    assert_eq!(
        head.map(f64::to_bits),
        PINNED_WEIGHT.map(f64::to_bits),
        "{head:?}"
    );
    assert_eq!(
        bias.map(f64::to_bits),
        PINNED_BIAS.map(f64::to_bits),
        "{bias:?}"
    );
}

const PINNED_WEIGHT: [f64; 3] = [
    0.018144835885668672,
    -0.026964157871545463,
    0.029411504254029316,
];
const PINNED_BIAS: [f64; 2] = [-0.41573885780479436, 0.013835130804252804];

#[test]
fn f32_networks_get_the_f64_draws_rounded() {
    let init = Init::new(9);
    let wide = init.build::<f64, Mlp>().unwrap();
    let narrow = init.build::<f32, Small32>().unwrap();
    assert!(
        wide.h
            .weight
            .iter()
            .zip(narrow.h.weight.iter())
            .all(|(w, n)| *w as f32 == *n)
    );
}

#[test]
fn an_override_changes_only_its_tensors() {
    let base = Init::new(5).build::<f64, Mlp>().unwrap();
    let changed = Init::new(5)
        .layer(
            "out",
            Scheme::Normal {
                mean: 0.0,
                std: 1.0,
            },
        )
        .build::<f64, Mlp>()
        .unwrap();
    assert_eq!(base.h.weight, changed.h.weight);
    assert_eq!(base.out.bias, changed.out.bias);
    assert_ne!(base.out.weight, changed.out.weight);
}

#[test]
fn precedence_is_tensor_then_layer_then_network_then_default() {
    let init = Init::default()
        .weights(Scheme::Constant(1.0))
        .biases(Scheme::Constant(2.0))
        .layer("out", Scheme::Constant(3.0))
        .layer("norm", Scheme::Constant(4.0))
        .tensor("out.bias", Scheme::Constant(5.0));
    let schemes: Vec<Scheme> = Mlp::TENSORS.iter().map(|t| init.scheme_for(t)).collect();
    use Scheme::{Constant as C, Zeros};
    assert_eq!(schemes, [C(1.0), C(2.0), C(4.0), Zeros, C(3.0), C(5.0)]);
}

#[test]
fn unknown_names_and_bad_schemes_are_errors_and_write_nothing() {
    let mut net = Mlp::boxed_zeros();
    let err = Init::default()
        .layer("hidden", Scheme::Zeros)
        .apply(&mut *net)
        .unwrap_err();
    assert_eq!(
        err,
        InitError::UnknownLayer {
            name: "hidden".into(),
            layers: alloc::vec!["h", "norm", "out"]
        }
    );
    assert_eq!(
        err.to_string(),
        "init override names layer `hidden`, which this network does not have; its layers are `h`, `norm`, `out`"
    );
    let err = Init::default()
        .tensor("h.weights", Scheme::Zeros)
        .apply(&mut *net)
        .unwrap_err();
    assert!(matches!(err, InitError::UnknownTensor { ref name, .. } if name == "h.weights"));
    let err = Init::default()
        .layer(
            "out",
            Scheme::Normal {
                mean: 0.0,
                std: -1.0,
            },
        )
        .apply(&mut *net)
        .unwrap_err();
    assert!(matches!(
        err,
        InitError::InvalidScheme {
            tensor: "out.weight",
            ..
        }
    ));
    assert!(
        Init::default()
            .weights(Scheme::Uniform(f64::NAN))
            .apply(&mut *net)
            .is_err()
    );
    // The default layer norm gain is 1: had anything been written, it would show.
    assert!(net.norm.weight.iter().all(|g| *g == 0.0));
}
