//! The rules of convolutional layers, one `check_*` each, reporting into the shared sink.

use quote::ToTokens;

use super::{
    MAX_VALUE_LEN, SpatialLayer, SpatialNode, declared_shape, described, is_parameterless, spatial,
    window,
};
use crate::errors::Errors;
use crate::model::{Model, NodeKind, Shape};
use crate::syntax::{LayerKind, shown};

/// The layer keyword and what the layer needs, for messages.
fn needs(layer: &SpatialLayer) -> &'static str {
    match layer {
        SpatialLayer::Conv(conv) if conv.dims == 1 => "a signal `[channels, length]`",
        SpatialLayer::Conv(_) => "an image `[channels, height, width]`",
        _ => "a feature map `[channels, length]` or `[channels, height, width]`",
    }
}

// input: 64,  c1: conv1d(8, kernel = 3)      input: [1, 28, 28],  c1: conv1d(8, kernel = 3)
pub fn check_spatial_input(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (LayerKind::Spatial(layer), Some(input)) = (&node.layer.kind, node.input) else {
            continue;
        };
        let layer = &**layer;
        if crate::causal::is_causal(layer, node.kind) {
            continue; // crate::causal::check
        }
        let fits = match (layer, spatial(input)) {
            (_, None) => false,
            (SpatialLayer::Conv(conv), Some((.., dims))) => conv.dims == dims,
            (_, Some(_)) => true,
        };
        if !fits {
            let keyword = layer.keyword();
            let hint = match (layer, input) {
                (_, Shape::Sequence(_)) => format!(
                    "a sequence network has no feature maps: declare the input as \
                     `input: [C, L]` to run `{keyword}` over a signal of fixed length"
                ),
                (_, Shape::Vector(_)) => format!(
                    "declare the input as `input: [C, L]` or `input: [C, H, W]`, and put `{keyword}` before the dense layers"
                ),
                (SpatialLayer::Conv(conv), _) if conv.dims == 1 => {
                    "use `conv2d` on an image".to_owned()
                }
                _ => "use `conv1d` on a signal".to_owned(),
            };
            errors.at(
                keyword.span(),
                format!(
                    "`{}`: `{keyword}` needs {}, but its input is {}; {hint}",
                    shown(&node.layer.name),
                    needs(layer),
                    described(input)
                ),
            );
        }
    }
}

// input: [1, 4, 4],  c1: conv2d(8, kernel = 5)      p1: max_pool(8)   (on [6, 4, 4])
pub fn check_spatial_window(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (LayerKind::Spatial(layer), NodeKind::Spatial(kind), Some(input)) =
            (&node.layer.kind, node.kind, node.input)
        else {
            continue;
        };
        let layer = &**layer;
        let Some((_, size, dims)) = spatial(input) else {
            continue; // check_spatial_input
        };
        if matches!(kind, SpatialNode::GlobalAvgPool)
            || matches!((layer, dims), (SpatialLayer::Conv(conv), dims) if conv.dims != dims)
        {
            continue;
        }
        let name = shown(&node.layer.name);
        let Some(window) = window(kind, input) else {
            let (kernel, padding, dilation) = match (kind, layer) {
                (
                    SpatialNode::Conv {
                        kernel,
                        padding,
                        dilation,
                        ..
                    },
                    SpatialLayer::Conv(_),
                ) => (kernel, padding.unwrap_or([0, 0]), dilation),
                (SpatialNode::Pool { kernel, .. }, SpatialLayer::Pool(_)) => (
                    if dims == 1 { [1, kernel[1]] } else { kernel },
                    [0, 0],
                    [1, 1],
                ),
                _ => continue,
            };
            let reach = [0, 1].map(|a| dilation[a].saturating_mul(kernel[a] - 1).saturating_add(1));
            let padded = [0, 1].map(|a| size[a].saturating_add(2 * padding[a]));
            let shown_size = |s: [usize; 2]| match dims {
                1 => s[1].to_string(),
                _ => format!("{}×{}", s[0], s[1]),
            };
            let what = match layer {
                SpatialLayer::Conv(_) if dilation != [1, 1] => "dilated kernel",
                SpatialLayer::Conv(_) => "kernel",
                _ => "pooling window",
            };
            let padded_note = if padding == [0, 0] {
                String::new()
            } else {
                format!(" padded to {}", shown_size(padded))
            };
            let span = match layer {
                SpatialLayer::Conv(conv) => conv.kernel.tokens.clone(),
                SpatialLayer::Pool(pool) => pool.kernel.tokens.clone(),
                SpatialLayer::GlobalAvgPool { keyword } => keyword.to_token_stream(),
            };
            errors.spanned(
                span,
                format!(
                    "`{name}`: its {what} spans {} but its input {} {} {}{padded_note}, which \
                     leaves no output; use a smaller kernel{}",
                    shown_size(reach),
                    declared_shape(input),
                    if dims == 1 { "has length" } else { "is" },
                    shown_size(size),
                    if matches!(layer, SpatialLayer::Conv(_)) {
                        " or more padding"
                    } else {
                        ""
                    }
                ),
            );
            continue;
        };
        let output = match kind {
            SpatialNode::Conv { out_channels, .. } => out_channels,
            _ => window.channels,
        }
        .saturating_mul(window.output[0])
        .saturating_mul(window.output[1]);
        if output > MAX_VALUE_LEN {
            errors.at(
                node.layer.name.span(),
                format!(
                    "`{name}` outputs {output} scalars per sample; at most {MAX_VALUE_LEN} fit; \
                     use fewer channels or a larger stride"
                ),
            );
        }
    }
}

// c1: conv2d(8, kernel = 3),  c2: conv2d(8, kernel = 3) + input   ([8, 4, 4] vs [1, 6, 6])
pub fn check_spatial_residual(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let (Some(residual), Some(output)) = (&node.residual, node.output) else {
            continue;
        };
        let Some(source) = residual.shape else {
            continue;
        };
        if spatial(output).is_none() && spatial(source).is_none() {
            continue; // vectors: check_residual_widths
        }
        let (name, source_name) = (shown(&node.layer.name), shown(&residual.syntax.source));
        let fits = if residual.project {
            // A 1×1 convolution changes the channels, not the positions; into a vector, the
            // projection is a dense map of the flattened source.
            match (spatial(output), spatial(source)) {
                (Some((_, a, da)), Some((_, b, db))) => a == b && da == db,
                (None, _) => true,
                (Some(_), None) => false,
            }
        } else {
            output == source
        };
        if fits {
            continue;
        }
        let fix = if residual.project {
            "a projection (a 1×1 convolution) changes the channels only; match the lengths, \
             heights and widths"
        } else if matches!((spatial(output), spatial(source)), (Some((_, a, da)), Some((_, b, db))) if a == b && da == db)
        {
            &*format!("add `project({source_name})` or match the channels")
        } else {
            "match the shapes (the same padding and stride keep the size)"
        };
        errors.spanned(
            &residual.syntax.source,
            format!(
                "residual `{source_name}` has shape {} but `{name}` has shape {}; {fix}",
                declared_shape(source),
                declared_shape(output)
            ),
        );
    }
}

// input: [1, 8, 8],  norm: layer_norm   (over a feature map)
pub fn check_layer_norm_input(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        if let (LayerKind::LayerNorm { keyword, .. }, Some(input)) = (&node.layer.kind, node.input)
            && spatial(input).is_some()
        {
            errors.at(
                keyword.span(),
                format!(
                    "`{}`: `layer_norm` normalizes a vector, but its input is the feature map {}; \
                     put it after a dense layer or a `global_avg_pool`",
                    shown(&node.layer.name),
                    declared_shape(input)
                ),
            );
        }
    }
}

// input: [1, 8, 8],  p: max_pool(2),  loss: mse   (nothing to train)
pub fn check_has_parameters(model: &Model<'_>, errors: &mut Errors) {
    if !model.nodes.is_empty()
        && model.ends_with_node
        && model.net.failed_layers.is_empty()
        && model.nodes.iter().all(is_parameterless)
    {
        errors.at(
            model.net.name.span(),
            format!(
                "`{}` has only pooling layers, so nothing to train; add a dense or convolutional layer",
                shown(&model.net.name)
            ),
        );
    }
}
