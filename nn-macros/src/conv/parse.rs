//! The grammar of convolutional layers and feature-map inputs (see the module's grammar).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{Ident, LitBool, Token, parenthesized};

use super::{
    AVG_POOL, CONV1D, CONV2D, ConvSyntax, DILATION, GLOBAL_AVG_POOL, KERNEL, MAX_POOL,
    MAX_VALUE_LEN, PADDING, Padding, PoolSyntax, SAME, STRIDE, Size, SpatialLayer,
};
use crate::model::Shape;
use crate::parse::{parse_activation, parse_width, set_activation};
use crate::syntax::{Activation, LayerKind, Width, keyword};

/// `[C, L]` or `[C, H, W]` after `input:`; each dimension at least 1.
pub fn parse_input_dims(input: ParseStream) -> syn::Result<Vec<Width>> {
    let content;
    let bracket = syn::bracketed!(content in input);
    let mut dims = Vec::new();
    while !content.is_empty() {
        let dim = parse_width(&content, "an input dimension")?;
        if dim.value == 0 {
            return Err(syn::Error::new_spanned(
                &dim.lit,
                "an input dimension is at least 1",
            ));
        }
        dims.push(dim);
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    if !(2..=3).contains(&dims.len()) {
        return Err(syn::Error::new(
            bracket.span.join(),
            "an input shape is `[channels, length]` (for conv1d) or `[channels, height, width]` \
             (for conv2d), channels first as in PyTorch",
        ));
    }
    let len = dims.iter().fold(1usize, |n, d| n.saturating_mul(d.value));
    if len > MAX_VALUE_LEN {
        return Err(syn::Error::new(
            bracket.span.join(),
            format!("the input holds {len} scalars per sample; at most {MAX_VALUE_LEN} fit"),
        ));
    }
    Ok(dims)
}

/// The input shape from its dimensions.
pub fn input_shape(dims: &[Width]) -> Option<Shape> {
    match dims {
        [c, l] => Some(Shape::Signal {
            channels: c.value,
            length: l.value,
        }),
        [c, h, w] => Some(Shape::Image {
            channels: c.value,
            height: h.value,
            width: w.value,
        }),
        _ => None,
    }
}

/// A convolutional or pooling layer after its keyword, or `None` if the keyword is not one.
pub fn parse_layer(
    keyword: &Ident,
    input: ParseStream,
    activation: &mut Option<Activation>,
) -> syn::Result<Option<LayerKind>> {
    let name = keyword.to_string();
    let layer = match name.as_str() {
        CONV1D | CONV2D => SpatialLayer::Conv(parse_conv(keyword, input, activation)?),
        MAX_POOL | AVG_POOL => SpatialLayer::Pool(parse_pool(keyword, input)?),
        GLOBAL_AVG_POOL => {
            if input.peek(syn::token::Paren) {
                return Err(syn::Error::new(
                    keyword.span(),
                    "`global_avg_pool` takes no arguments: it averages each channel over all \
                     its positions",
                ));
            }
            SpatialLayer::GlobalAvgPool {
                keyword: keyword.clone(),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(LayerKind::Spatial(Box::new(layer))))
}

fn parse_conv(
    keyword: &Ident,
    input: ParseStream,
    activation: &mut Option<Activation>,
) -> syn::Result<ConvSyntax> {
    let dims = if keyword == CONV1D { 1 } else { 2 };
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            format!(
                "`{keyword}` needs its output channels and kernel: `{keyword}(16, kernel = 3)`"
            ),
        ));
    }
    let args;
    parenthesized!(args in input);
    let out_channels = parse_width(&args, "the number of output channels")?;
    if out_channels.value == 0 {
        return Err(syn::Error::new_spanned(
            &out_channels.lit,
            format!("`{keyword}` has 0 output channels; it needs at least 1"),
        ));
    }
    let (mut kernel, mut stride, mut padding, mut dilation, mut bias) =
        (None, None, None, None, None);
    let mut causal = None;
    while !args.is_empty() {
        args.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `,` between the arguments of `{keyword}`"),
            )
        })?;
        if args.is_empty() {
            break;
        }
        if args.peek(syn::LitInt) || args.peek(syn::token::Paren) {
            return Err(args.error(format!(
                "`{keyword}` takes its kernel by name: `{keyword}({}, kernel = 3)`",
                out_channels.value
            )));
        }
        if crate::causal::parse_option(&args, keyword, &mut causal)? {
            continue;
        }
        if !(args.peek(Ident) && args.peek2(Token![=])) {
            // A bare word is an activation, or on a `conv1d` the flag `causal`.
            let parsed = parse_activation(&args).map_err(|e| match dims {
                1 => syn::Error::new(e.span(), format!("{e}, or the flag `causal`")),
                _ => e,
            })?;
            set_activation(activation, parsed)?;
            continue;
        }
        let option: Ident = args.parse()?;
        args.parse::<Token![=]>()?;
        let slot_set = match option.to_string().as_str() {
            KERNEL => kernel
                .replace(parse_size(&args, keyword, dims, KERNEL)?)
                .is_some(),
            STRIDE => stride
                .replace(parse_size(&args, keyword, dims, STRIDE)?)
                .is_some(),
            DILATION => dilation
                .replace(parse_size(&args, keyword, dims, DILATION)?)
                .is_some(),
            PADDING if args.peek(Ident) => {
                let same: Ident = args.parse()?;
                if same != SAME {
                    return Err(syn::Error::new(
                        same.span(),
                        "expected a padding size or `same`",
                    ));
                }
                padding.replace(Padding::Same(same)).is_some()
            }
            PADDING => padding
                .replace(Padding::Zeros(parse_size_from(
                    &args, keyword, dims, PADDING, 0,
                )?))
                .is_some(),
            _ if option == keyword::BIAS => {
                let value: LitBool = args.parse().map_err(|e| {
                    syn::Error::new(e.span(), "expected `true` or `false` for `bias`")
                })?;
                bias.replace(value.value).is_some()
            }
            _ => {
                // `conv1d` also takes the flag `causal` (on a sequence).
                let causal = (dims == 1).then_some(crate::causal::CAUSAL);
                let options: Vec<&str> = CONV_OPTIONS.iter().copied().chain(causal).collect();
                return Err(unknown_option(&option, keyword, &options));
            }
        };
        if slot_set {
            return Err(syn::Error::new(
                option.span(),
                format!("`{option}` is set twice; keep one"),
            ));
        }
    }
    let Some(kernel) = kernel else {
        return Err(syn::Error::new(
            keyword.span(),
            format!(
                "`{keyword}` needs its kernel size: `{keyword}({}, kernel = 3)`",
                out_channels.value
            ),
        ));
    };
    if let (Some(Padding::Same(same)), Some(stride)) = (&padding, &stride)
        && stride.value != [1, 1]
    {
        return Err(syn::Error::new(
            same.span(),
            "`padding = same` needs stride 1 (as in PyTorch): with a larger stride the output \
             cannot keep the input's size; give the padding as a number",
        ));
    }
    Ok(ConvSyntax {
        keyword: keyword.clone(),
        dims,
        out_channels,
        kernel,
        stride,
        padding,
        dilation,
        bias: bias.unwrap_or(true),
        causal,
    })
}

const CONV_OPTIONS: &[&str] = &[KERNEL, STRIDE, PADDING, DILATION, keyword::BIAS];
const POOL_OPTIONS: &[&str] = &[STRIDE];

/// An option that is not one of `keyword`'s: named as another layer's option when it is one.
fn unknown_option(option: &Ident, keyword: &Ident, options: &[&str]) -> syn::Error {
    let owner = if option == keyword::EPS {
        Some("layer_norm")
    } else if option == keyword::BIAS || option == PADDING || option == DILATION || option == KERNEL
    {
        Some("conv1d` and `conv2d")
    } else {
        None
    };
    let expected = keyword::list(options.iter().copied());
    match owner {
        Some(owner) => syn::Error::new(
            option.span(),
            format!(
                "`{option}` is an option of `{owner}`, not of `{keyword}`; `{keyword}` takes {expected}"
            ),
        ),
        None => syn::Error::new(
            option.span(),
            format!("unknown option `{option}` of `{keyword}`; expected {expected}"),
        ),
    }
}

fn parse_pool(keyword: &Ident, input: ParseStream) -> syn::Result<PoolSyntax> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            format!("`{keyword}` needs its kernel size: `{keyword}(2)`"),
        ));
    }
    let args;
    parenthesized!(args in input);
    let kernel = parse_size(&args, keyword, 2, KERNEL)?;
    let mut stride = None;
    while !args.is_empty() {
        args.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `,` between the arguments of `{keyword}`"),
            )
        })?;
        if args.is_empty() {
            break;
        }
        if !(args.peek(Ident) && args.peek2(Token![=])) {
            let what: TokenStream = args.parse()?;
            return Err(syn::Error::new_spanned(
                what,
                format!(
                    "`{keyword}` takes a kernel size and `stride = ..`, no activation; put the \
                     activation on the layer before"
                ),
            ));
        }
        let option: Ident = args.parse()?;
        args.parse::<Token![=]>()?;
        if option != STRIDE {
            return Err(unknown_option(&option, keyword, POOL_OPTIONS));
        }
        if stride
            .replace(parse_size(&args, keyword, 2, STRIDE)?)
            .is_some()
        {
            return Err(syn::Error::new(
                option.span(),
                "`stride` is set twice; keep one",
            ));
        }
    }
    Ok(PoolSyntax {
        keyword: keyword.clone(),
        max: keyword == MAX_POOL,
        kernel,
        stride,
    })
}

/// A size of at least 1.
fn parse_size(input: ParseStream, keyword: &Ident, dims: usize, what: &str) -> syn::Result<Size> {
    parse_size_from(input, keyword, dims, what, 1)
}

/// `INT` or, in 2-D, `(INT, INT)`; each at least `min`. In 1-D the value is `[1, INT]` (padding
/// `[0, INT]`).
fn parse_size_from(
    input: ParseStream,
    keyword: &Ident,
    dims: usize,
    what: &str,
    min: usize,
) -> syn::Result<Size> {
    let description = format!("the {what} of `{keyword}`");
    let check = |width: &Width| {
        if width.value < min {
            Err(syn::Error::new_spanned(
                &width.lit,
                format!("{description} must be at least {min}"),
            ))
        } else {
            Ok(width.value)
        }
    };
    if input.peek(syn::token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        let tokens = content.fork().parse::<TokenStream>()?;
        if dims == 1 {
            return Err(syn::Error::new(
                paren.span.join(),
                format!("`{keyword}` is one-dimensional: give the {what} as one number"),
            ));
        }
        let height = parse_width(&content, &description)?;
        content.parse::<Token![,]>()?;
        let width = parse_width(&content, &description)?;
        if !content.is_empty() {
            return Err(content.error(format!("{description} is a pair `(height, width)`")));
        }
        let mut group = quote::quote!((#tokens));
        if let Some(proc_macro2::TokenTree::Group(g)) = group.clone().into_iter().next() {
            let mut g = g;
            g.set_span(paren.span.join());
            group = g.into_token_stream();
        }
        return Ok(Size {
            value: [check(&height)?, check(&width)?],
            pair: true,
            tokens: group,
        });
    }
    let single = parse_width(input, &description)?;
    let value = check(&single)?;
    let filler = if min == 0 { 0 } else { 1 };
    Ok(Size {
        value: if dims == 1 {
            [filler, value]
        } else {
            [value, value]
        },
        pair: false,
        tokens: single.lit.to_token_stream(),
    })
}
