//! The grammar: DSL tokens → the syntax tree ([`Network`]), keeping every user token for spans.
//!
//! ```text
//! network  := attr* vis 'struct' IDENT '{' entry (',' entry)* ','? '}'
//! entry    := 'input' ':' INT
//!           | 'loss' ':' LOSS
//!           | attr* IDENT ':' layer residual?     (attrs: doc comments only, see check)
//! layer    := 'dense' '(' INT (',' dense_arg)* ','? ')'
//!           | 'layer_norm' ('(' norm_arg (',' norm_arg)* ','? ')')?
//!           | 'dropout' '(' P ')' | 'batch_norm' ...  (see `parse::mode`)
//! dense_arg := activation | 'bias' '=' BOOL
//! norm_arg := activation | 'eps' '=' FLOAT      (a positive normal f64)
//! activation := IDENT | 'leaky_relu' '(' NUMBER ')' | 'gelu' '(' 'tanh' ')'
//! residual := '+' (IDENT | 'input' | 'project' '(' (IDENT | 'input') ')')
//! INT      := an unsuffixed integer literal, 1 to 2^24 (an expression such as `2 * 4` is
//!             refused over its whole span)
//! ```
//!
//! An IDENT may be raw (`r#type`); names are shown and stored without the `r#`
//! ([`crate::syntax::shown`]).
//!
//! Entries are split at top-level commas and parsed one by one, so a mistake in one entry
//! does not hide mistakes in the others: every entry's error is reported.

mod mode;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitBool, LitFloat, LitInt, Token, Visibility, parenthesized};

use crate::errors::Errors;
use crate::syntax::{
    Activation, ActivationKind, DEFAULT_LAYER_NORM_EPS, EntryKind, Input, Layer, LayerKind, Loss,
    Network, Residual, Slot, Width, keyword, shown,
};

/// Parses a declaration. Returns `None` only when not even the struct header parsed; entry
/// errors go to `errors` and the entry is left out.
pub fn parse_network(tokens: TokenStream, errors: &mut Errors) -> Option<Network> {
    // At the end of a top-level stream syn points at the call site (the whole invocation);
    // scoped to the last token, "unexpected end of input" points where the input stops.
    let last = tokens
        .clone()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |tree| tree.span());
    let header =
        match (|input: ParseStream| parse_header(input, errors)).parse2(scoped(tokens, last)) {
            Ok(header) => header,
            Err(error) => {
                errors.push(error);
                return None;
            }
        };
    let mut network = Network {
        attrs: header.attrs,
        vis: header.vis,
        name: header.name,
        inputs: Vec::new(),
        layers: Vec::new(),
        losses: Vec::new(),
        order: Vec::new(),
        failed_layers: Vec::new(),
    };
    for (entry, end) in split_entries(header.body, header.close, errors) {
        let key = entry_key(&entry);
        let parsed = (|input: ParseStream| {
            let content;
            parenthesized!(content in input);
            parse_entry(&content, &mut network)
        })
        .parse2(scoped(entry, end));
        match parsed {
            Ok(kind) => network.order.push(Slot { kind, parsed: true }),
            Err(error) => {
                errors.push(error);
                // Keep the failed entry's place, so that checks do not also report it missing.
                if let Some(key) = key {
                    let kind = entry_kind(&key);
                    if kind == EntryKind::Layer {
                        network.failed_layers.push(key);
                    }
                    network.order.push(Slot {
                        kind,
                        parsed: false,
                    });
                }
            }
        }
    }
    Some(network)
}

/// `tokens` in one group spanned at `end`: parsed from inside the group, an error at the end of
/// `tokens` points at `end` (the entry's comma, or the closing brace).
fn scoped(tokens: TokenStream, end: Span) -> TokenStream {
    let mut group = Group::new(Delimiter::Parenthesis, tokens);
    group.set_span(end);
    TokenStream::from(TokenTree::Group(group))
}

/// The key of an entry (`input`, `loss` or a layer's name), if its start reads as one.
fn entry_key(entry: &TokenStream) -> Option<Ident> {
    (|input: ParseStream| {
        input.call(Attribute::parse_outer)?;
        let key: Ident = input.parse()?;
        input.parse::<TokenStream>()?;
        Ok(key)
    })
    .parse2(entry.clone())
    .ok()
}

fn entry_kind(key: &Ident) -> EntryKind {
    if key == keyword::INPUT {
        EntryKind::Input
    } else if key == keyword::LOSS {
        EntryKind::Loss
    } else {
        EntryKind::Layer
    }
}

struct Header {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    body: TokenStream,
    /// The closing brace, where the last entry ends.
    close: Span,
}

fn parse_header(outer: ParseStream, errors: &mut Errors) -> syn::Result<Header> {
    let input;
    parenthesized!(input in outer);
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if !input.peek(Token![struct]) {
        return Err(input.error("expected `struct` and the network's name: `pub struct Net { … }`"));
    }
    input.parse::<Token![struct]>()?;
    let name: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected the network's name after `struct`"))?;
    if input.peek(Token![<]) {
        // Reported, then parsed past: the entries are still checked and the stub is emitted.
        let generics: syn::Generics = input.parse()?;
        errors.spanned(
            &generics,
            "a network takes no generic parameters: the scalar type parameter `T` \
             (default `f32`) is added for you; remove them",
        );
    }
    if !input.peek(syn::token::Brace) {
        return Err(input.error(format!(
            "expected `{{` and the network's entries after `struct {}`, e.g. \
             `{{ input: 4, out: dense(1), loss: mse }}`",
            shown(&name)
        )));
    }
    let Ok(TokenTree::Group(group)) = input.parse::<TokenTree>() else {
        return Err(input.error("expected the network's `{ … }`"));
    };
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        errors.spanned(
            rest,
            "unexpected tokens after the network's `{ … }`; remove them",
        );
    }
    Ok(Header {
        attrs,
        vis,
        name,
        body: group.stream(),
        close: group.span_close(),
    })
}

/// Splits the body at top-level commas, each entry with the span it ends at (its comma, or
/// `close` for the last one). Commas inside `( … )` belong to a group, so they are not seen
/// here. An empty entry (`,,`) is reported at its comma.
fn split_entries(body: TokenStream, close: Span, errors: &mut Errors) -> Vec<(TokenStream, Span)> {
    let mut entries = Vec::new();
    let mut current = TokenStream::new();
    for tree in body {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                if current.is_empty() {
                    errors.push(syn::Error::new(
                        p.span(),
                        "expected an entry before this comma",
                    ));
                }
                entries.push((std::mem::take(&mut current), p.span()));
            }
            _ => current.extend([tree]),
        }
    }
    if !current.is_empty() {
        entries.push((current, close));
    }
    entries.retain(|(entry, _)| !entry.is_empty());
    entries
}

fn parse_entry(input: ParseStream, network: &mut Network) -> syn::Result<EntryKind> {
    let kind = parse_entry_items(input, network)?;
    if !input.is_empty() {
        return Err(input.error("expected `,` after the entry; entries are separated by commas"));
    }
    Ok(kind)
}

fn parse_entry_items(input: ParseStream, network: &mut Network) -> syn::Result<EntryKind> {
    let attrs = input.call(Attribute::parse_outer)?;
    let key: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("{e}; an entry is `input: <width>`, `<name>: <layer>` or `loss: <loss>`"),
        )
    })?;
    input
        .parse::<Token![:]>()
        .map_err(|e| syn::Error::new(e.span(), format!("expected `:` after `{}`", shown(&key))))?;
    if (key == keyword::INPUT || key == keyword::LOSS)
        && let Some(attr) = attrs.first()
    {
        return Err(syn::Error::new_spanned(
            attr,
            format!("`{key}` takes no attributes"),
        ));
    }
    if key == keyword::INPUT && input.peek(syn::token::Bracket) {
        let dims = crate::conv::parse_input_dims(input)?;
        let width = Width {
            value: dims.iter().map(|d| d.value).product(),
            lit: dims[0].lit.clone(),
        };
        network.inputs.push(Input {
            key,
            width,
            sequence: None,
            dims,
        });
        return Ok(EntryKind::Input);
    }
    if key == keyword::INPUT {
        if let Some(sequence) = crate::recurrent::parse_sequence_keyword(input)? {
            let width = parse_width(&sequence.args, "the number of features per step")?;
            network.inputs.push(Input {
                key,
                width,
                sequence: Some(sequence.keyword),
                dims: Vec::new(),
            });
            return Ok(EntryKind::Input);
        }
        let width = parse_width(input, "the input width")?;
        network.inputs.push(Input {
            key,
            width,
            sequence: None,
            dims: Vec::new(),
        });
        return Ok(EntryKind::Input);
    }
    if key == keyword::LOSS {
        let loss = parse_loss(input, key)?;
        network.losses.push(loss);
        return Ok(EntryKind::Loss);
    }
    let layer = parse_layer(input, attrs, key)?;
    network.layers.push(layer);
    Ok(EntryKind::Layer)
}

/// The largest width: the weights live in fixed-size arrays, and this bound keeps every count
/// the expansion makes (parameters, bytes, intermediates) far from overflowing `usize`.
const MAX_WIDTH: usize = 1 << 24;

pub(crate) fn parse_width(input: ParseStream, what: &str) -> syn::Result<Width> {
    if input.is_empty() {
        return Err(input.error(format!("expected {what}, an integer such as `64`")));
    }
    if input.peek(Token![-]) {
        // Parsed apart, so that the error underlines the sign and the number.
        let minus: Token![-] = input.parse()?;
        let number: Option<TokenTree> = if input.is_empty() {
            None
        } else {
            Some(input.parse()?)
        };
        return Err(syn::Error::new_spanned(
            quote::quote!(#minus #number),
            format!("{what} must be a positive integer, such as `64`"),
        ));
    }
    let lit: LitInt = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected {what}, an integer such as `64`"),
        )
    })?;
    if !input.is_empty() && !input.peek(Token![,]) {
        // `2 * 4`: the whole expression, up to the next argument.
        let mut expression = quote::quote!(#lit);
        while !input.is_empty() && !input.peek(Token![,]) {
            expression.extend([input.parse::<TokenTree>()?]);
        }
        return Err(syn::Error::new_spanned(
            expression,
            format!(
                "{what} is an integer literal such as `64`, not an expression; write its value"
            ),
        ));
    }
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "{what} is written without a suffix: `{}`",
                lit.base10_digits()
            ),
        ));
    }
    if lit.base10_digits().starts_with('-') {
        return Err(syn::Error::new_spanned(
            &lit,
            format!("{what} must be a positive integer, such as `64`"),
        ));
    }
    match lit.base10_parse::<usize>() {
        Ok(value) if value <= MAX_WIDTH => Ok(Width { value, lit }),
        _ => Err(syn::Error::new(
            lit.span(),
            format!(
                "{what} `{}` is too large; a width is at most {MAX_WIDTH}",
                lit.base10_digits()
            ),
        )),
    }
}

fn parse_loss(input: ParseStream, key: Ident) -> syn::Result<Loss> {
    let expected = || keyword::list(keyword::LOSSES.iter().map(|(name, _)| *name));
    let ident: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a loss: {}", expected())))?;
    let kind = lookup(keyword::LOSSES, &ident).ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            format!(
                "unknown loss `{ident}`{}; expected {}",
                suggest(&ident, keyword::LOSSES.iter().map(|(name, _)| *name)),
                expected()
            ),
        )
    })?;
    Ok(Loss { key, kind, ident })
}

fn parse_layer(input: ParseStream, attrs: Vec<Attribute>, name: Ident) -> syn::Result<Layer> {
    let all_kinds = || {
        keyword::LAYER_KINDS
            .iter()
            .chain(crate::recurrent::LAYER_KINDS)
            .copied()
    };
    let kinds = || keyword::list(all_kinds());
    let keyword_ident: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a layer after `{}:`: {}", shown(&name), kinds()),
        )
    })?;
    let mut activation = None;
    let kind = if keyword_ident == keyword::DENSE {
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                keyword_ident.span(),
                "`dense` needs its width: `dense(64)` or `dense(64, relu)`",
            ));
        }
        let args;
        parenthesized!(args in input);
        let width = parse_width(&args, "the layer's width")?;
        let mut bias = None;
        while !args.is_empty() {
            args.parse::<Token![,]>().map_err(|e| {
                syn::Error::new(e.span(), "expected `,` between the arguments of `dense`")
            })?;
            if args.is_empty() {
                break;
            }
            if args.peek(Ident) && args.peek2(Token![=]) {
                let option: Ident = args.parse()?;
                args.parse::<Token![=]>()?;
                if option != keyword::BIAS {
                    return Err(syn::Error::new(
                        option.span(),
                        format!("unknown option `{option}` of `dense`; expected `bias = false`"),
                    ));
                }
                let value: LitBool = args.parse().map_err(|e| {
                    syn::Error::new(e.span(), "expected `true` or `false` for `bias`")
                })?;
                if bias.replace(value.value).is_some() {
                    return Err(syn::Error::new(
                        option.span(),
                        "`bias` is set twice; keep one",
                    ));
                }
            } else {
                set_activation(&mut activation, parse_activation(&args)?)?;
            }
        }
        LayerKind::Dense {
            keyword: keyword_ident,
            width,
            bias: bias.unwrap_or(true),
        }
    } else if keyword_ident == keyword::LAYER_NORM {
        let mut eps = None;
        if input.peek(syn::token::Paren) {
            let args;
            parenthesized!(args in input);
            while !args.is_empty() {
                if args.peek(Ident) && args.peek2(Token![=]) {
                    let option: Ident = args.parse()?;
                    args.parse::<Token![=]>()?;
                    if option != keyword::EPS {
                        return Err(syn::Error::new(
                            option.span(),
                            format!(
                                "unknown option `{option}` of `layer_norm`; expected `eps = 1e-5`"
                            ),
                        ));
                    }
                    let negative = args.peek(Token![-]);
                    let (value, span, written_zero) = parse_number(&args, "`eps`")?;
                    // `1e-400` is written positive but reads as 0: the next check says why.
                    if value <= 0.0 && (negative || written_zero) {
                        return Err(syn::Error::new(
                            span,
                            "`eps` must be positive, such as `eps = 1e-5`",
                        ));
                    }
                    if !value.is_normal() {
                        // 1e-310 is subnormal in f64, 1e-400 rounds to 0: `x / √(σ² + eps)`
                        // of a constant input would be 0/0.
                        return Err(syn::Error::new(
                            span,
                            format!(
                                "`eps` must be a normal number, at least {:e} (the smallest \
                                 normal f64; {:e} for f32), such as `eps = 1e-5`",
                                f64::MIN_POSITIVE,
                                f32::MIN_POSITIVE
                            ),
                        ));
                    }
                    if eps.replace(value).is_some() {
                        return Err(syn::Error::new(
                            option.span(),
                            "`eps` is set twice; keep one",
                        ));
                    }
                } else {
                    set_activation(&mut activation, parse_activation(&args)?)?;
                }
                if !args.is_empty() {
                    args.parse::<Token![,]>().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "expected `,` between the arguments of `layer_norm`",
                        )
                    })?;
                }
            }
        }
        LayerKind::LayerNorm {
            keyword: keyword_ident,
            eps: eps.unwrap_or(DEFAULT_LAYER_NORM_EPS),
        }
    } else if keyword_ident == keyword::DROPOUT {
        mode::parse_dropout(input, &name, keyword_ident)?
    } else if keyword_ident == keyword::BATCH_NORM {
        mode::parse_batch_norm(input, &name, keyword_ident, &mut activation)?
    } else if let Some(kind) = crate::recurrent::parse_sequence_layer(&keyword_ident, input)? {
        kind
    } else if let Some(kind) = crate::conv::parse_layer(&keyword_ident, input, &mut activation)? {
        kind
    } else {
        return Err(syn::Error::new(
            keyword_ident.span(),
            format!(
                "unknown layer kind `{keyword_ident}`{}; expected {}",
                suggest(&keyword_ident, all_kinds()),
                kinds()
            ),
        ));
    };
    let activation = activation.unwrap_or(Activation {
        kind: ActivationKind::Identity,
        span: match &kind {
            LayerKind::Dense { keyword, .. }
            | LayerKind::LayerNorm { keyword, .. }
            | LayerKind::Dropout { keyword, .. }
            | LayerKind::BatchNorm { keyword, .. }
            | LayerKind::Recurrent { keyword, .. }
            | LayerKind::Reduce { keyword, .. } => keyword.span(),
            LayerKind::Spatial(layer) => crate::conv::activation_span(layer),
        },
    });
    let residual = parse_residual(input)?;
    Ok(Layer {
        attrs,
        name,
        kind,
        activation,
        residual,
    })
}

pub(crate) fn set_activation(
    slot: &mut Option<Activation>,
    activation: Activation,
) -> syn::Result<()> {
    match slot {
        Some(first) => Err(syn::Error::new(
            activation.span,
            format!(
                "a layer takes one activation, but this one has `{}` and `{}`; remove one",
                first.kind.declared(),
                activation.kind.declared()
            ),
        )),
        None => {
            *slot = Some(activation);
            Ok(())
        }
    }
}

pub(crate) fn parse_activation(input: ParseStream) -> syn::Result<Activation> {
    let expected = || keyword::list(keyword::ACTIVATIONS.iter().map(|(name, _)| *name));
    let ident: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected an activation ({}) or an option", expected()),
        )
    })?;
    let span = ident.span();
    for (option, example) in [
        (keyword::BIAS, "bias = false"),
        (keyword::EPS, "eps = 1e-5"),
    ] {
        if ident == option {
            return Err(syn::Error::new(
                span,
                format!("`{option}` needs a value: `{example}`"),
            ));
        }
    }
    let kind = lookup(keyword::ACTIVATIONS, &ident).ok_or_else(|| {
        syn::Error::new(
            span,
            format!(
                "unknown activation `{ident}`{}; expected {}",
                suggest(&ident, keyword::ACTIVATIONS.iter().map(|(name, _)| *name)),
                expected()
            ),
        )
    })?;
    if !input.peek(syn::token::Paren) {
        return Ok(Activation { kind, span });
    }
    let args;
    parenthesized!(args in input);
    let kind = match kind {
        ActivationKind::LeakyRelu { .. } => {
            let (slope, ..) = parse_number(&args, "the negative slope of `leaky_relu`")?;
            ActivationKind::LeakyRelu { slope }
        }
        ActivationKind::Gelu => {
            let variant: Ident = args.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `tanh`: `gelu(tanh)`, or plain `gelu` for the exact form",
                )
            })?;
            if variant != keyword::GELU_TANH {
                return Err(syn::Error::new(
                    variant.span(),
                    format!(
                        "unknown `gelu` approximation `{variant}`; expected `gelu(tanh)` or plain `gelu` (exact)"
                    ),
                ));
            }
            ActivationKind::GeluTanh
        }
        _ => {
            return Err(syn::Error::new(
                args.span(),
                format!("`{ident}` takes no arguments"),
            ));
        }
    };
    if !args.is_empty() {
        return Err(args.error(format!("unexpected argument of `{ident}`")));
    }
    Ok(Activation { kind, span })
}

/// A float or integer literal, optionally negative; and whether its digits are all zero (so
/// that a value that rounds to 0, `1e-400`, can be told from a written `0.0`).
fn parse_number(input: ParseStream, what: &str) -> syn::Result<(f64, Span, bool)> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    let lookahead = input.lookahead1();
    let zero_digits = |digits: &str| {
        let mantissa = digits.split(['e', 'E']).next().unwrap_or_default();
        mantissa.chars().all(|c| matches!(c, '0' | '.' | '_'))
    };
    let (value, span, zero) = if lookahead.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        let zero = zero_digits(lit.base10_digits());
        (lit.base10_parse::<f64>()?, lit.span(), zero)
    } else if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        let zero = zero_digits(lit.base10_digits());
        (lit.base10_parse::<f64>()?, lit.span(), zero)
    } else {
        return Err(syn::Error::new(
            input.span(),
            format!("expected a number for {what}"),
        ));
    };
    if !value.is_finite() {
        return Err(syn::Error::new(
            span,
            format!("{what} is too large for a float"),
        ));
    }
    Ok((if negative { -value } else { value }, span, zero))
}

fn parse_residual(input: ParseStream) -> syn::Result<Option<Residual>> {
    if input.is_empty() {
        return Ok(None);
    }
    input.parse::<Token![+]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected `,` or a residual `+ <layer>` after the layer",
        )
    })?;
    let first: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected the residual's source: `input`, an earlier layer, or `project(<layer>)`",
        )
    })?;
    let residual = if first == keyword::PROJECT && input.peek(syn::token::Paren) {
        let args;
        parenthesized!(args in input);
        let source: Ident = args.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the layer to project: `project(<layer>)` or `project(input)`",
            )
        })?;
        if !args.is_empty() {
            return Err(args.error("`project` takes one layer name"));
        }
        Residual {
            source,
            project: Some(first),
        }
    } else {
        Residual {
            source: first,
            project: None,
        }
    };
    if input.peek(Token![+]) {
        return Err(input.error("a layer takes one residual; add the others in separate layers"));
    }
    Ok(Some(residual))
}

fn lookup<K: Copy>(table: &[(&str, K)], ident: &Ident) -> Option<K> {
    table
        .iter()
        .find(|(name, _)| ident == name)
        .map(|(_, kind)| *kind)
}

/// ` (did you mean `relu`?)` when a keyword is one or two edits away.
fn suggest<'a>(ident: &Ident, names: impl IntoIterator<Item = &'a str>) -> String {
    let written = ident.to_string();
    names
        .into_iter()
        .map(|name| (edit_distance(&written, name), name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map_or_else(String::new, |(_, name)| {
            format!(" (did you mean `{name}`?)")
        })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
