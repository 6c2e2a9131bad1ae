//! Every optimizer's constructor rejects a hyperparameter out of its range, naming it.

use super::*;
use crate::optim::fixture::Point;

/// The error message of constructing an optimizer, or `None` if it was accepted.
fn rejected<R: UpdateRule>(config: R::Config) -> Option<alloc::string::String> {
    Optim::<R>::new(config).err().map(|e| e.to_string())
}

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

#[test]
fn the_shared_options_are_checked_for_every_optimizer() {
    let sgd = SgdConfig::default();
    let cases: [(SgdConfig, &str); 11] = [
        (
            SgdConfig { lr: INF, ..sgd },
            "`lr` of `SgdConfig` is inf; use a finite number >= 0",
        ),
        (
            SgdConfig { lr: NAN, ..sgd },
            "`lr` of `SgdConfig` is NaN; use a finite number >= 0",
        ),
        (
            SgdConfig { lr: -0.1, ..sgd },
            "`lr` of `SgdConfig` is -0.1; use a finite number >= 0",
        ),
        (
            SgdConfig {
                weight_decay: INF,
                ..sgd
            },
            "`weight_decay` of `SgdConfig` is inf; use a finite number >= 0",
        ),
        (
            SgdConfig {
                max_grad_norm: Some(INF),
                ..sgd
            },
            "`max_grad_norm` of `SgdConfig` is inf; use a finite number > 0",
        ),
        (
            SgdConfig {
                max_grad_norm: Some(0.0),
                ..sgd
            },
            "`max_grad_norm` of `SgdConfig` is 0; use a finite number > 0",
        ),
        (
            SgdConfig {
                schedule: Schedule::Step {
                    every: 0,
                    gamma: 0.5,
                },
                ..sgd
            },
            "`every` of `Schedule::Step` is 0; use a number >= 1",
        ),
        (
            SgdConfig {
                schedule: Schedule::Step {
                    every: 10,
                    gamma: NAN,
                },
                ..sgd
            },
            "`gamma` of `Schedule::Step` is NaN; use a finite number >= 0",
        ),
        (
            SgdConfig {
                schedule: Schedule::Cosine {
                    steps: 0,
                    min_lr: 0.0,
                },
                ..sgd
            },
            "`steps` of `Schedule::Cosine` is 0; use a number >= 1",
        ),
        (
            SgdConfig {
                schedule: Schedule::Cosine {
                    steps: 10,
                    min_lr: INF,
                },
                ..sgd
            },
            "`min_lr` of `Schedule::Cosine` is inf; use a finite number >= 0",
        ),
        (
            SgdConfig {
                momentum: 1.0,
                ..sgd
            },
            "`momentum` of `SgdConfig` is 1; use a number in [0, 1)",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(
            rejected::<SgdRule<f64, Point>>(config).as_deref(),
            Some(message)
        );
    }
    // The same shared check runs for the others, naming their config.
    assert_eq!(
        rejected::<AdamRule<f64, Point>>(AdamConfig {
            lr: INF,
            ..Default::default()
        })
        .as_deref(),
        Some("`lr` of `AdamConfig` is inf; use a finite number >= 0")
    );
    assert_eq!(
        rejected::<AdamWRule<f64, Point>>(AdamWConfig {
            weight_decay: NAN,
            ..Default::default()
        })
        .as_deref(),
        Some("`weight_decay` of `AdamWConfig` is NaN; use a finite number >= 0")
    );
    assert_eq!(
        rejected::<RmsPropRule<f64, Point>>(RmsPropConfig {
            max_grad_norm: Some(NAN),
            ..Default::default()
        })
        .as_deref(),
        Some("`max_grad_norm` of `RmsPropConfig` is NaN; use a finite number > 0")
    );
    assert_eq!(
        rejected::<AdaGradRule<f64, Point>>(AdaGradConfig {
            lr: -1.0,
            ..Default::default()
        })
        .as_deref(),
        Some("`lr` of `AdaGradConfig` is -1; use a finite number >= 0")
    );
}

#[test]
fn each_optimizer_checks_its_own_hyperparameters() {
    let adam = AdamConfig::default();
    assert_eq!(
        rejected::<AdamRule<f64, Point>>(AdamConfig { beta1: 1.0, ..adam }).as_deref(),
        Some("`beta1` of `AdamConfig` is 1; use a number in [0, 1)")
    );
    assert_eq!(
        rejected::<AdamRule<f64, Point>>(AdamConfig { beta2: NAN, ..adam }).as_deref(),
        Some("`beta2` of `AdamConfig` is NaN; use a number in [0, 1)")
    );
    assert_eq!(
        rejected::<AdamRule<f64, Point>>(AdamConfig { eps: 0.0, ..adam }).as_deref(),
        Some("`eps` of `AdamConfig` is 0; use a finite number > 0")
    );
    assert_eq!(
        rejected::<AdamWRule<f64, Point>>(AdamWConfig {
            eps: INF,
            ..Default::default()
        })
        .as_deref(),
        Some("`eps` of `AdamWConfig` is inf; use a finite number > 0")
    );
    let rmsprop = RmsPropConfig::default();
    assert_eq!(
        rejected::<RmsPropRule<f64, Point>>(RmsPropConfig {
            alpha: -0.5,
            ..rmsprop
        })
        .as_deref(),
        Some("`alpha` of `RmsPropConfig` is -0.5; use a number in [0, 1)")
    );
    assert_eq!(
        rejected::<RmsPropRule<f64, Point>>(RmsPropConfig {
            momentum: NAN,
            ..rmsprop
        })
        .as_deref(),
        Some("`momentum` of `RmsPropConfig` is NaN; use a number in [0, 1)")
    );
    assert_eq!(
        rejected::<AdaGradRule<f64, Point>>(AdaGradConfig {
            eps: NAN,
            ..Default::default()
        })
        .as_deref(),
        Some("`eps` of `AdaGradConfig` is NaN; use a finite number > 0")
    );
    // The defaults, and the edges of each range, are accepted.
    assert_eq!(
        rejected::<SgdRule<f64, Point>>(SgdConfig {
            lr: 0.0,
            momentum: 0.0,
            ..Default::default()
        }),
        None
    );
    assert_eq!(
        rejected::<AdamRule<f64, Point>>(AdamConfig { beta1: 0.0, ..adam }),
        None
    );
    assert_eq!(
        rejected::<AdamWRule<f64, Point>>(AdamWConfig::default()),
        None
    );
    assert_eq!(rejected::<RmsPropRule<f64, Point>>(rmsprop), None);
    assert_eq!(
        rejected::<AdaGradRule<f64, Point>>(AdaGradConfig::default()),
        None
    );
}
