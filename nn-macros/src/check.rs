//! Every semantic rule of a declaration, one small `check_*` function each, all reporting into
//! one sink; and the resolved model (widths, residual sources) that expansion works from.

use std::collections::HashMap;

use syn::Ident;

use crate::errors::Errors;
use crate::ir::{ActivationKind, EntryKind, Layer, LayerKind, LossKind, Network, keyword};

/// A network that passed every check: widths resolved, residual sources found.
pub struct Model<'a> {
    pub net: &'a Network,
    pub input_width: usize,
    pub nodes: Vec<Node<'a>>,
    pub loss: LossKind,
}

/// One layer with its resolved shapes.
pub struct Node<'a> {
    pub layer: &'a Layer,
    /// Width of the layer's input (the previous node's output).
    pub in_width: usize,
    /// Width of the layer's output.
    pub width: usize,
    /// Residual source and its width, when the layer has one.
    pub residual: Option<ResidualSource>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Input,
    Layer(usize),
}

#[derive(Clone, Copy)]
pub struct ResidualSource {
    pub source: Source,
    pub width: usize,
    pub project: bool,
}

impl Model<'_> {
    pub fn output_width(&self) -> usize {
        self.nodes
            .last()
            .map_or(self.input_width, |node| node.width)
    }
}

/// Runs every check; returns the model only when none failed.
pub fn check<'a>(net: &'a Network, errors: &mut Errors) -> Option<Model<'a>> {
    let before = !errors.is_empty();
    check_input(net, errors);
    check_loss_declared(net, errors);
    check_order(net, errors);
    check_layers_exist(net, errors);
    check_unique_names(net, errors);
    check_widths(net, errors);
    let input_width = net.inputs.first().map(|input| input.width.value);
    let nodes = resolve(net, input_width, errors);
    // After a layer that failed to parse, the widths and the last layer are not the user's.
    let widths_known = net.failed_layers.is_empty();
    if let (Some(last), Some(loss), true) = (nodes.last(), net.losses.first(), widths_known) {
        check_loss_fits(last, loss.kind, &loss.ident, errors);
    }
    if before || !errors.is_empty() {
        return None;
    }
    Some(Model {
        net,
        input_width: input_width?,
        nodes,
        loss: net.losses.first()?.kind,
    })
}

/// Whether an entry of `kind` was written, parsed or not (a failed one is already reported).
fn written(net: &Network, kind: EntryKind) -> bool {
    net.order.contains(&kind)
}

fn check_input(net: &Network, errors: &mut Errors) {
    if net.inputs.is_empty() && !written(net, EntryKind::Input) {
        errors.at(
            net.name.span(),
            format!(
                "`{}` declares no input width; add `input: <width>,` as its first entry",
                net.name
            ),
        );
    }
    for extra in net.inputs.iter().skip(1) {
        errors.at(extra.key.span(), "`input` is declared twice; keep one");
    }
}

fn check_loss_declared(net: &Network, errors: &mut Errors) {
    if net.losses.is_empty() && !written(net, EntryKind::Loss) {
        errors.at(
            net.name.span(),
            format!(
                "`{}` declares no loss; add `loss: <loss>,` as its last entry, with a loss among {}",
                net.name,
                keyword::list(keyword::LOSSES.iter().map(|(name, _)| *name))
            ),
        );
    }
    for extra in net.losses.iter().skip(1) {
        errors.at(extra.key.span(), "`loss` is declared twice; keep one");
    }
}

fn check_order(net: &Network, errors: &mut Errors) {
    if let (Some(input), Some(first)) = (net.inputs.first(), net.order.first())
        && *first != EntryKind::Input
    {
        errors.at(
            input.key.span(),
            "`input` must be the first entry, before every layer",
        );
    }
    if let (Some(loss), Some(last)) = (net.losses.last(), net.order.last())
        && *last != EntryKind::Loss
    {
        errors.at(
            loss.key.span(),
            "`loss` must be the last entry, after every layer",
        );
    }
}

fn check_layers_exist(net: &Network, errors: &mut Errors) {
    if !written(net, EntryKind::Layer) && !net.order.is_empty() {
        errors.at(
            net.name.span(),
            format!(
                "`{}` has no layers; add at least one, e.g. `out: dense(1),`",
                net.name
            ),
        );
    }
}

fn check_unique_names(net: &Network, errors: &mut Errors) {
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for layer in &net.layers {
        let name = layer.name.to_string();
        if let Some(first) = seen.get(&name) {
            errors.at(
                layer.name.span(),
                format!("duplicate layer name `{first}`; layer names become field names and must be unique"),
            );
        } else {
            seen.insert(name, &layer.name);
        }
    }
    // A projection is stored in the field `<layer>_proj`: it must not collide with a layer.
    for layer in &net.layers {
        if layer.residual.as_ref().is_some_and(|r| r.project.is_some()) {
            let field = format!("{}_proj", layer.name);
            if let Some(other) = seen.get(&field) {
                errors.at(
                    other.span(),
                    format!("layer `{field}` collides with the field that holds `{}`'s projection; rename it", layer.name),
                );
            }
        }
    }
}

fn check_widths(net: &Network, errors: &mut Errors) {
    let inputs = net
        .inputs
        .iter()
        .map(|input| ("the input".to_owned(), &input.width));
    let layers = net.layers.iter().filter_map(|layer| match &layer.kind {
        LayerKind::Dense { width, .. } => Some((format!("`{}`", layer.name), width)),
        LayerKind::LayerNorm { .. } => None,
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

/// Resolves every layer's widths and residual source, reporting residual mistakes.
fn resolve<'a>(net: &'a Network, input_width: Option<usize>, errors: &mut Errors) -> Vec<Node<'a>> {
    // After a layer that failed to parse, the widths that follow are not the user's.
    let widths_known = net.failed_layers.is_empty();
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut previous = input_width;
    for (index, layer) in net.layers.iter().enumerate() {
        let in_width = previous.unwrap_or(0);
        let width = match &layer.kind {
            LayerKind::Dense { width, .. } => width.value,
            LayerKind::LayerNorm { .. } => in_width,
        };
        let residual = layer.residual.as_ref().and_then(|residual| {
            let source = find_source(net, index, &residual.source, errors)?;
            let source_width = match source {
                Source::Input => input_width?,
                Source::Layer(i) => nodes[i].width,
            };
            let project = residual.project.is_some();
            if !project && widths_known && source_width != width && width != 0 && source_width != 0
            {
                errors.spanned(
                    &residual.source,
                    format!(
                        "residual `{}` has width {source_width} but `{}` has width {width}; \
                         add `project({})` or match the widths",
                        residual.source, layer.name, residual.source
                    ),
                );
            }
            Some(ResidualSource {
                source,
                width: source_width,
                project,
            })
        });
        if let LayerKind::LayerNorm { keyword, .. } = &layer.kind
            && in_width == 1
            && widths_known
        {
            errors.at(keyword.span(), format!("`{}` normalizes a single feature, which is always 0; a layer norm needs width 2 or more", layer.name));
        }
        nodes.push(Node {
            layer,
            in_width,
            width,
            residual,
        });
        previous = Some(width);
    }
    nodes
}

fn find_source(net: &Network, index: usize, source: &Ident, errors: &mut Errors) -> Option<Source> {
    if source == keyword::INPUT {
        return Some(Source::Input);
    }
    let layer = &net.layers[index];
    match net.layers.iter().position(|l| l.name == *source) {
        Some(i) if i < index => Some(Source::Layer(i)),
        Some(i) if i == index => {
            errors.at(source.span(), format!("`{}` cannot add its own output; a residual adds an earlier layer's output or `input`", layer.name));
            None
        }
        Some(_) => {
            errors.at(source.span(), format!("residual from `{source}`, which comes after `{}`; a residual adds an earlier layer's output or `input`", layer.name));
            None
        }
        // A layer that failed to parse: its error is reported already.
        None if net.failed_layers.iter().any(|failed| failed == source) => None,
        None => {
            let earlier: Vec<String> = std::iter::once(keyword::INPUT.to_owned())
                .chain(net.layers[..index].iter().map(|l| l.name.to_string()))
                .collect();
            errors.at(
                source.span(),
                format!(
                    "unknown layer `{source}` in residual; expected {}",
                    keyword::list(earlier.iter().map(String::as_str))
                ),
            );
            None
        }
    }
}

fn check_loss_fits(last: &Node<'_>, loss: LossKind, ident: &Ident, errors: &mut Errors) {
    let layer = &last.layer;
    match (loss, layer.activation.kind) {
        (LossKind::SoftmaxCrossEntropy, _) if last.width == 1 => errors.at(
            ident.span(),
            format!(
                "softmax_cross_entropy needs at least 2 outputs, but `{}` has width 1; \
                 use binary_cross_entropy for a single label",
                layer.name
            ),
        ),
        (LossKind::SoftmaxCrossEntropy, ActivationKind::Softmax) => errors.at(
            layer.activation.span,
            format!(
                "`{}` applies softmax, but softmax_cross_entropy takes logits and applies softmax \
                 itself; remove the activation",
                layer.name
            ),
        ),
        (LossKind::BinaryCrossEntropy, ActivationKind::Sigmoid) => errors.at(
            layer.activation.span,
            format!(
                "`{}` applies sigmoid, but binary_cross_entropy takes logits and applies sigmoid \
                 itself; remove the activation",
                layer.name
            ),
        ),
        _ => {}
    }
}
