//! Every semantic rule of a declaration, one small `check_*` function each, all reporting into
//! one sink. The rules read the syntax tree (entries as written) and the model (nodes and
//! shapes); a rule that needs a shape an entry that failed to parse hides is skipped, the others
//! still run, so parse and semantic mistakes are reported together.

use std::collections::HashMap;

use quote::ToTokens;
use syn::Ident;

use crate::errors::Errors;
use crate::model::{Model, Node, Shape};
use crate::syntax::{
    ActivationKind, EntryKind, LayerKind, Loss, LossKind, Network, keyword, shown,
};

/// Runs every rule on `model`; true when none failed.
pub fn check(model: &Model<'_>, errors: &mut Errors) -> bool {
    let before = errors.is_empty();
    let net = model.net;
    check_input(net, errors);
    check_loss_declared(net, errors);
    check_order(net, errors);
    check_layers_exist(net, errors);
    check_unique_names(net, errors);
    check_projection_names(net, errors);
    check_widths(net, errors);
    check_layer_attributes(net, errors);
    check_residual_sources(model, errors);
    check_residual_widths(model, errors);
    check_layer_norm_width(model, errors);
    check_loss_activation(model, errors);
    check_loss_width(model, errors);
    check_network_name(net, errors);
    check_tensor_sizes(model, errors);
    crate::recurrent::check(model, errors);
    crate::causal::check(model, errors);
    crate::conv::check_spatial_input(model, errors);
    crate::conv::check_spatial_window(model, errors);
    crate::conv::check_spatial_residual(model, errors);
    crate::conv::check_layer_norm_input(model, errors);
    crate::conv::check_has_parameters(model, errors);
    before && errors.is_empty()
}

/// Whether an entry of `kind` was written, parsed or not (a failed one is already reported).
fn written(net: &Network, kind: EntryKind) -> bool {
    net.order.iter().any(|slot| slot.kind == kind)
}

// struct Net { h1: dense(8), .. }   (no `input: 4`)      input: 4, input: 4
fn check_input(net: &Network, errors: &mut Errors) {
    if net.inputs.is_empty() && !written(net, EntryKind::Input) {
        errors.at(
            net.name.span(),
            format!(
                "`{}` declares no input width; add `input: <width>,` as its first entry",
                shown(&net.name)
            ),
        );
    }
    for extra in net.inputs.iter().skip(1) {
        errors.at(extra.key.span(), "`input` is declared twice; keep one");
    }
}

// loss: mse, loss: mse   (no loss at all is an inference-only network, see `expand::inference`)
fn check_loss_declared(net: &Network, errors: &mut Errors) {
    for extra in net.losses.iter().skip(1) {
        errors.at(extra.key.span(), "`loss` is declared twice; keep one");
    }
}

// h1: dense(8), input: 4, ..   (input not first)      loss: mse, out: dense(1)   (loss not last)
fn check_order(net: &Network, errors: &mut Errors) {
    if let (Some(input), Some(first)) = (net.inputs.first(), net.order.first())
        && first.kind != EntryKind::Input
    {
        errors.at(
            input.key.span(),
            "`input` must be the first entry, before every layer",
        );
    }
    if let (Some(loss), Some(last)) = (net.losses.last(), net.order.last())
        && last.kind != EntryKind::Loss
    {
        errors.at(
            loss.key.span(),
            "`loss` must be the last entry, after every layer",
        );
    }
}

// struct Net { input: 4, loss: mse }   (nothing between)
fn check_layers_exist(net: &Network, errors: &mut Errors) {
    if !written(net, EntryKind::Layer) && !net.order.is_empty() {
        errors.at(
            net.name.span(),
            format!(
                "`{}` has no layers; add at least one, e.g. `out: dense(1),`",
                shown(&net.name)
            ),
        );
    }
}

// h1: dense(8),  h1: dense(4)
fn check_unique_names(net: &Network, errors: &mut Errors) {
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for layer in &net.layers {
        let name = shown(&layer.name);
        if let Some(first) = seen.get(&name) {
            errors.at(
                layer.name.span(),
                format!(
                    "duplicate layer name `{}`; layer names become field names and must be unique",
                    shown(first)
                ),
            );
        } else {
            seen.insert(name, &layer.name);
        }
    }
}

// h3: dense(4) + project(h1),  h3_proj: dense(4)   (the projection's field is `h3_proj`)
fn check_projection_names(net: &Network, errors: &mut Errors) {
    let seen: HashMap<String, &Ident> = net
        .layers
        .iter()
        .map(|layer| (shown(&layer.name), &layer.name))
        .collect();
    // A projection is stored in the field `<layer>_proj`: it must not collide with a layer.
    for layer in &net.layers {
        if layer.residual.as_ref().is_some_and(|r| r.project.is_some()) {
            let field = format!("{}_proj", shown(&layer.name));
            if let Some(other) = seen.get(&field) {
                errors.at(
                    other.span(),
                    format!("layer `{field}` collides with the field that holds `{}`'s projection; rename it", shown(&layer.name)),
                );
            }
        }
    }
}

// input: 0      h1: dense(0)
fn check_widths(net: &Network, errors: &mut Errors) {
    let inputs = net
        .inputs
        .iter()
        .map(|input| ("the input".to_owned(), &input.width));
    let layers = net.layers.iter().filter_map(|layer| match &layer.kind {
        LayerKind::Dense { width, .. } => Some((format!("`{}`", shown(&layer.name)), width)),
        LayerKind::Recurrent { width, .. } => Some((format!("`{}`", shown(&layer.name)), width)),
        LayerKind::LayerNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::BatchNorm { .. }
        | LayerKind::Reduce { .. }
        | LayerKind::Spatial(_) => None,
    });
    for (what, width) in inputs.chain(layers) {
        if width.value == 0 {
            errors.spanned(
                &width.lit,
                format!("{what} has width 0; a width must be at least 1"),
            );
        }
    }
}

// #[cfg(feature = "wide")] h1: dense(8),   #[allow(dead_code)] h1: dense(8)   (not a doc comment)
fn check_layer_attributes(net: &Network, errors: &mut Errors) {
    for layer in &net.layers {
        let name = shown(&layer.name);
        for attr in layer.attrs.iter().filter(|a| !a.path().is_ident("doc")) {
            if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
                errors.spanned(
                    attr,
                    format!(
                        "a layer cannot be configured out: the layers after `{name}` and the \
                         loss are checked against its shape; put `#[cfg]` on the whole network \
                         and declare one network per configuration"
                    ),
                );
            } else {
                errors.spanned(
                    attr,
                    format!(
                        "a layer takes only doc comments, but `{name}` has `#[{}]`; remove it \
                         (attributes for the generated struct go on the network)",
                        attr.path().to_token_stream().to_string().replace(' ', "")
                    ),
                );
            }
        }
    }
}

// h2: dense(8) + h9   (no layer h9)      h2: dense(8) + h2      h2: dense(8) + h3   (later)
fn check_residual_sources(model: &Model<'_>, errors: &mut Errors) {
    let net = model.net;
    for (index, node) in model.nodes.iter().enumerate() {
        let Some(residual) = node.residual.as_ref().filter(|r| r.source.is_none()) else {
            continue;
        };
        let span = residual.syntax.source.span();
        let (layer, source) = (shown(&node.layer.name), shown(&residual.syntax.source));
        if source == layer {
            errors.at(span, format!("`{layer}` cannot add its own output; a residual adds an earlier layer's output or `input`"));
        } else if net.layers.iter().any(|l| shown(&l.name) == source) {
            errors.at(span, format!("residual from `{source}`, which comes after `{layer}`; a residual adds an earlier layer's output or `input`"));
        } else if !net
            .failed_layers
            .iter()
            .any(|failed| shown(failed) == source)
        {
            // (A layer that failed to parse has its error reported already.)
            let earlier: Vec<String> = std::iter::once(keyword::INPUT.to_owned())
                .chain(model.nodes[..index].iter().map(|n| shown(&n.layer.name)))
                .collect();
            errors.at(
                span,
                format!(
                    "unknown layer `{source}` in residual; expected {}",
                    keyword::list(earlier.iter().map(String::as_str))
                ),
            );
        }
    }
}

// h1: dense(8),  h2: dense(4) + h1   (8 ≠ 4; `project(h1)` would fit them); also step by step
// between sequences: r1: gru(16),  r2: gru(32) + r1
fn check_residual_widths(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(residual) = node.residual.as_ref().filter(|r| !r.project) else {
            continue;
        };
        if let (Some(Shape::Vector(source)), Some(Shape::Vector(width)))
        | (Some(Shape::Sequence(source)), Some(Shape::Sequence(width))) =
            (residual.shape, node.output)
            && source != width
            && source != 0
            && width != 0
        {
            let (name, source_name) = (shown(&node.layer.name), shown(&residual.syntax.source));
            errors.spanned(
                &residual.syntax.source,
                format!(
                    "residual `{source_name}` has width {source} but `{name}` has width {width}; \
                     add `project({source_name})` or match the widths"
                ),
            );
        }
    }
}

// h1: dense(1),  norm: layer_norm   (one feature normalizes to 0); input: seq(1), norm: layer_norm
fn check_layer_norm_width(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let per_step = match (&node.layer.kind, node.input) {
            (LayerKind::LayerNorm { .. }, Some(Shape::Vector(1))) => "",
            (LayerKind::LayerNorm { .. }, Some(Shape::Sequence(1))) => " per step",
            _ => continue,
        };
        let LayerKind::LayerNorm { keyword, .. } = &node.layer.kind else {
            continue;
        };
        errors.at(
            keyword.span(),
            format!(
                "`{}` normalizes a single feature{per_step}, which is always 0; a layer norm \
                 needs width 2 or more",
                shown(&node.layer.name)
            ),
        );
    }
}

/// The last layer and the loss, when both parsed and the last layer entry is the last node.
fn last_and_loss<'m>(model: &'m Model<'_>) -> Option<(&'m Node<'m>, &'m Loss)> {
    let last = model.nodes.last().filter(|_| model.ends_with_node)?;
    Some((last, model.net.losses.first()?))
}

// out: dense(1),  loss: softmax_cross_entropy   (one class)
fn check_loss_width(model: &Model<'_>, errors: &mut Errors) {
    if let Some((last, loss)) = last_and_loss(model)
        && loss.kind == LossKind::SoftmaxCrossEntropy
        && last.output == Some(Shape::Vector(1))
    {
        errors.at(
            loss.ident.span(),
            format!(
                "softmax_cross_entropy needs at least 2 outputs, but `{}` has width 1; \
                 use binary_cross_entropy for a single label",
                shown(&last.layer.name)
            ),
        );
    }
}

// out: dense(10, softmax),  loss: softmax_cross_entropy   (softmax applied twice)
fn check_loss_activation(model: &Model<'_>, errors: &mut Errors) {
    let Some((last, loss)) = last_and_loss(model) else {
        return;
    };
    let layer = last.layer;
    if loss.kind == LossKind::SoftmaxCrossEntropy && last.output == Some(Shape::Vector(1)) {
        return; // reported by `check_loss_width`
    }
    match (loss.kind, layer.activation.kind) {
        (LossKind::SoftmaxCrossEntropy, ActivationKind::Softmax) => errors.at(
            layer.activation.span,
            format!(
                "`{}` applies softmax, but softmax_cross_entropy takes logits and applies softmax \
                 itself; remove the activation",
                shown(&layer.name)
            ),
        ),
        (LossKind::BinaryCrossEntropy, ActivationKind::Sigmoid) => errors.at(
            layer.activation.span,
            format!(
                "`{}` applies sigmoid, but binary_cross_entropy takes logits and applies sigmoid \
                 itself; remove the activation",
                shown(&layer.name)
            ),
        ),
        _ => {}
    }
}

// struct T { .. }   (the generated struct is `T<T: Real = f32>`)
fn check_network_name(net: &Network, errors: &mut Errors) {
    if shown(&net.name) == SCALAR_PARAMETER {
        errors.at(
            net.name.span(),
            format!(
                "a network cannot be named `{SCALAR_PARAMETER}`: the generated struct takes the \
                 scalar type parameter `{SCALAR_PARAMETER}` (`f32` or `f64`); rename it"
            ),
        );
    }
}

/// The name of the scalar type parameter the generated items take.
const SCALAR_PARAMETER: &str = "T";

/// The most elements one tensor may hold: 2²⁸ (1 GiB of `f32`).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 28;
/// The most elements all the tensors of a network may hold together: 2³⁰ (4 GiB of `f32`).
pub const MAX_NETWORK_ELEMENTS: usize = 1 << 30;

// input: 16777216,  huge: dense(16777216)   (a 2^48-element weight: 1 PiB of f32)
fn check_tensor_sizes(model: &Model<'_>, errors: &mut Errors) {
    let mut total: usize = 0;
    let mut reported_total = false;
    for node in &model.nodes {
        let layer = shown(&node.layer.name);
        for tensor in node.tensors().unwrap_or_default() {
            let len = tensor.len();
            if len > MAX_TENSOR_ELEMENTS {
                let shape: Vec<String> = tensor.shape.iter().map(usize::to_string).collect();
                errors.at(
                    node.layer.name.span(),
                    format!(
                        "`{layer}.{}` would hold {len} elements ([{}]); a tensor holds at most \
                         {MAX_TENSOR_ELEMENTS} (2^28, 1 GiB of f32); make `{layer}` or its \
                         input narrower",
                        tensor.suffix,
                        shape.join(", ")
                    ),
                );
                reported_total = true; // one error for the one cause
            }
            total = total.saturating_add(len);
        }
        if total > MAX_NETWORK_ELEMENTS && !reported_total {
            errors.at(
                node.layer.name.span(),
                format!(
                    "the network's parameters pass {MAX_NETWORK_ELEMENTS} elements (2^30, 4 GiB \
                     of f32) at `{layer}`, with {total}; make the layers narrower"
                ),
            );
            reported_total = true;
        }
    }
}
