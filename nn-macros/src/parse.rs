//! The grammar: DSL tokens → [`Network`], keeping every user token for spans.
//!
//! ```text
//! network  := attr* vis 'struct' IDENT '{' entry (',' entry)* ','? '}'
//! entry    := 'input' ':' INT
//!           | 'loss' ':' LOSS
//!           | attr* IDENT ':' layer residual?
//! layer    := 'dense' '(' INT (',' dense_arg)* ','? ')'
//!           | 'layer_norm' ('(' norm_arg (',' norm_arg)* ','? ')')?
//! dense_arg := activation | 'bias' '=' BOOL
//! norm_arg := activation | 'eps' '=' FLOAT
//! activation := IDENT | 'leaky_relu' '(' NUMBER ')' | 'gelu' '(' 'tanh' ')'
//! residual := '+' (IDENT | 'input' | 'project' '(' (IDENT | 'input') ')')
//! ```
//!
//! Entries are split at top-level commas and parsed one by one, so a mistake in one entry
//! does not hide mistakes in the others: every entry's error is reported.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitBool, LitFloat, LitInt, Token, Visibility, braced, parenthesized};

use crate::errors::Errors;
use crate::ir::{
    Activation, ActivationKind, DEFAULT_LAYER_NORM_EPS, EntryKind, Input, Layer, LayerKind, Loss,
    Network, Residual, Width, keyword,
};

/// Parses a declaration. Returns `None` only when not even the struct header parsed; entry
/// errors go to `errors` and the entry is left out.
pub fn parse_network(tokens: TokenStream, errors: &mut Errors) -> Option<Network> {
    let header = match parse_header.parse2(tokens) {
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
    };
    for entry in split_entries(header.body, errors) {
        match (|input: ParseStream| parse_entry(input, &mut network)).parse2(entry) {
            Ok(kind) => network.order.push(kind),
            Err(error) => errors.push(error),
        }
    }
    Some(network)
}

struct Header {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    body: TokenStream,
}

fn parse_header(input: ParseStream) -> syn::Result<Header> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    input.parse::<Token![struct]>()?;
    let name: Ident = input.parse()?;
    if input.peek(Token![<]) {
        return Err(input.error(
            "a network takes no generic parameters: the scalar type parameter `T` \
             (default `f32`) is added for you",
        ));
    }
    if !input.peek(syn::token::Brace) {
        return Err(input.error(format!(
            "expected `{{` and the network's entries after `struct {name}`, e.g. \
             `{{ input: 4, out: dense(1), loss: mse }}`"
        )));
    }
    let content;
    braced!(content in input);
    let body: TokenStream = content.parse()?;
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after the network's `{ … }`"));
    }
    Ok(Header {
        attrs,
        vis,
        name,
        body,
    })
}

/// Splits the body at top-level commas. Commas inside `( … )` belong to a group, so they are
/// not seen here. An empty entry (`,,`) is reported at its comma.
fn split_entries(body: TokenStream, errors: &mut Errors) -> Vec<TokenStream> {
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
                entries.push(std::mem::take(&mut current));
            }
            _ => current.extend([tree]),
        }
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries.retain(|entry| !entry.is_empty());
    entries
}

fn parse_entry(input: ParseStream, network: &mut Network) -> syn::Result<EntryKind> {
    let attrs = input.call(Attribute::parse_outer)?;
    let key: Ident = input.parse()?;
    input.parse::<Token![:]>()?;
    if key == keyword::INPUT || key == keyword::LOSS {
        if let Some(attr) = attrs.first() {
            return Err(syn::Error::new_spanned(
                attr,
                format!("`{key}` takes no attributes"),
            ));
        }
    }
    if key == keyword::INPUT {
        let width = parse_width(input, "the input width")?;
        network.inputs.push(Input { key, width });
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

fn parse_width(input: ParseStream, what: &str) -> syn::Result<Width> {
    if input.is_empty() {
        return Err(input.error(format!("expected {what}, an integer such as `64`")));
    }
    let lit: LitInt = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected {what}, an integer such as `64`"),
        )
    })?;
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "{what} is written without a suffix: `{}`",
                lit.base10_digits()
            ),
        ));
    }
    let value = lit.base10_parse::<usize>()?;
    Ok(Width { value, lit })
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
    let kinds = || keyword::list(keyword::LAYER_KINDS.iter().copied());
    let keyword_ident: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a layer after `{name}:`: {}", kinds()),
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
            args.parse::<Token![,]>()?;
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
                let value: LitBool = args.parse()?;
                if bias.replace(value.value).is_some() {
                    return Err(syn::Error::new(option.span(), "`bias` is set twice"));
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
                    let (value, span) = parse_number(&args, "`eps`")?;
                    if !(value > 0.0 && value.is_finite()) {
                        return Err(syn::Error::new(span, "`eps` must be positive"));
                    }
                    if eps.replace(value).is_some() {
                        return Err(syn::Error::new(option.span(), "`eps` is set twice"));
                    }
                } else {
                    set_activation(&mut activation, parse_activation(&args)?)?;
                }
                if !args.is_empty() {
                    args.parse::<Token![,]>()?;
                }
            }
        }
        LayerKind::LayerNorm {
            keyword: keyword_ident,
            eps: eps.unwrap_or(DEFAULT_LAYER_NORM_EPS),
        }
    } else {
        return Err(syn::Error::new(
            keyword_ident.span(),
            format!(
                "unknown layer kind `{keyword_ident}`{}; expected {}",
                suggest(&keyword_ident, keyword::LAYER_KINDS.iter().copied()),
                kinds()
            ),
        ));
    };
    let activation = activation.unwrap_or(Activation {
        kind: ActivationKind::Identity,
        span: match &kind {
            LayerKind::Dense { keyword, .. } | LayerKind::LayerNorm { keyword, .. } => {
                keyword.span()
            }
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

fn set_activation(slot: &mut Option<Activation>, activation: Activation) -> syn::Result<()> {
    match slot {
        Some(_) => Err(syn::Error::new(
            activation.span,
            "a layer takes at most one activation",
        )),
        None => {
            *slot = Some(activation);
            Ok(())
        }
    }
}

fn parse_activation(input: ParseStream) -> syn::Result<Activation> {
    let expected = || keyword::list(keyword::ACTIVATIONS.iter().map(|(name, _)| *name));
    let ident: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected an activation ({}) or an option", expected()),
        )
    })?;
    let span = ident.span();
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
            let (slope, _) = parse_number(&args, "the negative slope of `leaky_relu`")?;
            ActivationKind::LeakyRelu { slope }
        }
        ActivationKind::Gelu => {
            let variant: Ident = args.parse()?;
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

/// A float or integer literal, optionally negative.
fn parse_number(input: ParseStream, what: &str) -> syn::Result<(f64, Span)> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    let lookahead = input.lookahead1();
    let (value, span) = if lookahead.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else if lookahead.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else {
        return Err(syn::Error::new(
            input.span(),
            format!("expected a number for {what}"),
        ));
    };
    Ok((if negative { -value } else { value }, span))
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
        let source: Ident = args.parse()?;
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
