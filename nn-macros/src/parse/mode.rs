//! The layers with a training and an inference mode:
//!
//! ```text
//! layer    := .. | 'dropout' '(' P ')'
//!           | 'batch_norm' ('(' bn_arg (',' bn_arg)* ','? ')')?
//! bn_arg   := activation | 'eps' '=' FLOAT | 'momentum' '=' FLOAT
//! P        := a number in [0, 1)
//! ```

use syn::parse::ParseStream;
use syn::{Ident, Token, parenthesized};

use super::{parse_activation, parse_number, set_activation};
use crate::syntax::{
    Activation, DEFAULT_BATCH_NORM_EPS, DEFAULT_BATCH_NORM_MOMENTUM, LayerKind, keyword, shown,
};

/// `dropout(0.5)`: the probability is required and in `[0, 1)`.
pub fn parse_dropout(
    input: ParseStream,
    name: &Ident,
    keyword_ident: Ident,
) -> syn::Result<LayerKind> {
    let name = shown(name);
    let needs_p = || {
        syn::Error::new(
            keyword_ident.span(),
            format!("dropout `{name}` needs the probability of dropping a value: `dropout(0.5)`"),
        )
    };
    if !input.peek(syn::token::Paren) {
        return Err(needs_p());
    }
    let args;
    parenthesized!(args in input);
    if args.is_empty() {
        return Err(needs_p());
    }
    let (p, span, _) = parse_number(&args, "the probability of `dropout`")?;
    if !(0.0..1.0).contains(&p) {
        return Err(syn::Error::new(
            span,
            format!(
                "dropout `{name}` has probability {p:?}, not in [0, 1); give the fraction of \
                 values to drop in training, such as `dropout(0.5)` (1 would drop everything)"
            ),
        ));
    }
    if !args.is_empty() {
        return Err(args.error(format!(
            "dropout `{name}` takes one argument, its probability: `dropout(0.5)`"
        )));
    }
    Ok(LayerKind::Dropout {
        keyword: keyword_ident,
        p,
    })
}

/// `batch_norm` or `batch_norm(relu, eps = 1e-5, momentum = 0.1)`, in any order.
pub fn parse_batch_norm(
    input: ParseStream,
    name: &Ident,
    keyword_ident: Ident,
    activation: &mut Option<Activation>,
) -> syn::Result<LayerKind> {
    let name = shown(name);
    let (mut eps, mut momentum) = (None, None);
    if input.peek(syn::token::Paren) {
        let args;
        parenthesized!(args in input);
        while !args.is_empty() {
            if args.peek(Ident) && args.peek2(Token![=]) {
                let option: Ident = args.parse()?;
                args.parse::<Token![=]>()?;
                let slot = if option == keyword::EPS {
                    let value = parse_eps(&args, &name)?;
                    eps.replace(value)
                } else if option == keyword::MOMENTUM {
                    let value = parse_momentum(&args, &name)?;
                    momentum.replace(value)
                } else {
                    return Err(syn::Error::new(
                        option.span(),
                        format!(
                            "unknown option `{option}` of batch norm `{name}`; expected \
                             `eps = 1e-5` or `momentum = 0.1`"
                        ),
                    ));
                };
                if slot.is_some() {
                    return Err(syn::Error::new(
                        option.span(),
                        format!("`{option}` is set twice; keep one"),
                    ));
                }
            } else {
                set_activation(activation, parse_activation(&args)?)?;
            }
            if !args.is_empty() {
                args.parse::<Token![,]>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected `,` between the arguments of `batch_norm`",
                    )
                })?;
            }
        }
    }
    Ok(LayerKind::BatchNorm {
        keyword: keyword_ident,
        eps: eps.unwrap_or(DEFAULT_BATCH_NORM_EPS),
        momentum: momentum.unwrap_or(DEFAULT_BATCH_NORM_MOMENTUM),
    })
}

/// A positive normal `eps`: `x̂ = (x − μ)/√(σ² + eps)` of a constant feature is `0/√eps`.
fn parse_eps(args: ParseStream, name: &str) -> syn::Result<f64> {
    let (value, span, _) = parse_number(args, "`eps`")?;
    if !value.is_normal() || value < 0.0 {
        return Err(syn::Error::new(
            span,
            format!(
                "`eps` of batch norm `{name}` must be a positive normal number (at least {:e}), \
                 such as `eps = 1e-5`",
                f64::MIN_POSITIVE
            ),
        ));
    }
    Ok(value)
}

/// A momentum in `[0, 1]`: the weight of each batch in the running statistics.
fn parse_momentum(args: ParseStream, name: &str) -> syn::Result<f64> {
    let (value, span, _) = parse_number(args, "`momentum`")?;
    if !(0.0..=1.0).contains(&value) {
        return Err(syn::Error::new(
            span,
            format!(
                "`momentum` of batch norm `{name}` is {value:?}, not in [0, 1]; it is the weight \
                 of each batch in the running statistics, such as `momentum = 0.1`"
            ),
        ));
    }
    Ok(value)
}
