//! Sequences in the DSL: `input: seq(F)`, the recurrent layers `rnn(H, tanh|relu)`, `gru(H)`,
//! `lstm(H)`, and the reductions `last` and `mean`; their grammar, shape rules, tensors and
//! checks. The other stages call in here through one hook each; `expand::recurrent` writes the
//! code.
//!
//! ```text
//! input    := 'input' ':' 'seq' '(' INT ')'                      (F features per step)
//! layer    := 'rnn' '(' INT (',' ('tanh' | 'relu'))? ')'        (PyTorch's `nn.RNN`)
//!           | 'gru' '(' INT ')' | 'lstm' '(' INT ')'             (`nn.GRU`, `nn.LSTM`)
//!           | 'last' | 'mean'                                    (sequence → vector)
//! ```
//! Shapes: a recurrent layer takes `seq(F)` and gives `seq(H)`; `dense` and `layer_norm` on a
//! sequence apply per step; a reduction takes `seq(W)` and gives the vector `W`. A network that
//! ends on a sequence is sequence-to-sequence: its loss is the mean over the steps.

use syn::parse::{ParseBuffer, ParseStream};
use syn::{Ident, parenthesized};

use crate::errors::Errors;
use crate::model::{Model, Shape, Tensor};
use crate::parse::parse_width;
use crate::syntax::{CellKind, LayerKind, LossKind, Reduction, shown};

pub const SEQ: &str = "seq";
pub const RNN: &str = "rnn";
pub const GRU: &str = "gru";
pub const LSTM: &str = "lstm";
pub const LAST: &str = "last";
pub const MEAN: &str = "mean";
const RNN_TANH: &str = "tanh";
/// The layer kinds of this grammar, listed after `dense` and `layer_norm` in messages.
pub const LAYER_KINDS: &[&str] = &[RNN, GRU, LSTM, LAST, MEAN];
const RNN_RELU: &str = "relu";

/// `seq(` … `)` of `input: seq(12)`: the keyword and the tokens inside.
pub struct SequenceInput<'a> {
    pub keyword: Ident,
    pub args: ParseBuffer<'a>,
}

/// The `seq(..)` of an input entry, if it starts with `seq`.
pub fn parse_sequence_keyword<'a>(
    input: ParseStream<'a>,
) -> syn::Result<Option<SequenceInput<'a>>> {
    let fork = input.fork();
    match fork.parse::<Ident>() {
        Ok(ident) if ident == SEQ => {}
        _ => return Ok(None),
    }
    let keyword: Ident = input.parse()?;
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            "`seq` needs the number of features per step: `input: seq(12)`",
        ));
    }
    let args;
    parenthesized!(args in input);
    Ok(Some(SequenceInput { keyword, args }))
}

/// A recurrent layer or a reduction, when `keyword` names one.
pub fn parse_sequence_layer(keyword: &Ident, input: ParseStream) -> syn::Result<Option<LayerKind>> {
    let name = keyword.to_string();
    let cell = match name.as_str() {
        RNN => CellKind::Rnn { relu: false },
        GRU => CellKind::Gru,
        LSTM => CellKind::Lstm,
        LAST | MEAN => {
            if input.peek(syn::token::Paren) {
                let args;
                parenthesized!(args in input);
                return Err(syn::Error::new(
                    args.span(),
                    format!("`{name}` takes no arguments: write `{name}`"),
                ));
            }
            let reduction = if name == LAST {
                Reduction::Last
            } else {
                Reduction::Mean
            };
            return Ok(Some(LayerKind::Reduce {
                keyword: keyword.clone(),
                reduction,
            }));
        }
        _ => return Ok(None),
    };
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            keyword.span(),
            format!("`{name}` needs its number of hidden units: `{name}(32)`"),
        ));
    }
    let args;
    parenthesized!(args in input);
    let width = parse_width(&args, "the number of hidden units")?;
    let mut cell = cell;
    if !args.is_empty() {
        args.parse::<syn::Token![,]>()?;
        if !args.is_empty() {
            cell = parse_cell_option(&args, cell, &name)?;
        }
    }
    if !args.is_empty() {
        return Err(args.error(format!("unexpected argument of `{name}`")));
    }
    Ok(Some(LayerKind::Recurrent {
        keyword: keyword.clone(),
        cell,
        width,
    }))
}

/// `tanh` or `relu` after an `rnn`'s width; nothing else takes an option.
fn parse_cell_option(args: ParseStream, cell: CellKind, name: &str) -> syn::Result<CellKind> {
    let option: Ident = args.parse()?;
    match cell {
        CellKind::Rnn { .. } if option == RNN_TANH => Ok(CellKind::Rnn { relu: false }),
        CellKind::Rnn { .. } if option == RNN_RELU => Ok(CellKind::Rnn { relu: true }),
        CellKind::Rnn { .. } => Err(syn::Error::new(
            option.span(),
            format!(
                "unknown nonlinearity `{option}` of `rnn`; expected `tanh` (the default) or \
                 `relu`, as PyTorch's `nn.RNN`"
            ),
        )),
        _ => Err(syn::Error::new(
            option.span(),
            format!(
                "`{name}` takes only its number of hidden units (its gates fix its \
                 nonlinearities); remove `{option}`"
            ),
        )),
    }
}

/// The layer as declared: `gru(32)`, `rnn(16, relu)`, `last`.
pub fn declared(kind: &LayerKind) -> String {
    match kind {
        LayerKind::Recurrent { cell, width, .. } => match cell {
            CellKind::Rnn { relu: false } => format!("{RNN}({})", width.value),
            CellKind::Rnn { relu: true } => format!("{RNN}({}, {RNN_RELU})", width.value),
            CellKind::Gru => format!("{GRU}({})", width.value),
            CellKind::Lstm => format!("{LSTM}({})", width.value),
        },
        LayerKind::Reduce { reduction, .. } => reduction.keyword().to_owned(),
        _ => String::new(),
    }
}

impl Reduction {
    pub fn keyword(self) -> &'static str {
        match self {
            Reduction::Last => LAST,
            Reduction::Mean => MEAN,
        }
    }
}

impl CellKind {
    /// Gate blocks stacked in the weights: PyTorch's `G` in `[G·H, in]`.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn { .. } => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            CellKind::Rnn { .. } => RNN,
            CellKind::Gru => GRU,
            CellKind::Lstm => LSTM,
        }
    }
}

/// What a sequence node computes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SequenceOp {
    Recurrent(CellKind),
    Reduce(Reduction),
    /// `conv1d(.., causal)` (see [`crate::causal`]).
    Causal(crate::causal::CausalConv),
}

impl SequenceOp {
    pub fn of(kind: &LayerKind) -> Self {
        match kind {
            LayerKind::Recurrent { cell, .. } => SequenceOp::Recurrent(*cell),
            LayerKind::Reduce { reduction, .. } => SequenceOp::Reduce(*reduction),
            _ => unreachable!("called for recurrent layers and reductions only"),
        }
    }

    /// PyTorch's tensors of a one-layer `nn.RNN`/`nn.GRU`/`nn.LSTM` (`input` features per step,
    /// `hidden` units); a reduction has none.
    pub fn tensors(self, input: usize, hidden: usize) -> Vec<Tensor> {
        let cell = match self {
            SequenceOp::Recurrent(cell) => cell,
            SequenceOp::Causal(conv) => return crate::causal::tensors(conv, input),
            SequenceOp::Reduce(_) => return Vec::new(),
        };
        let rows = cell.gates().saturating_mul(hidden);
        let weight = format!("RecurrentWeight {{ hidden: {hidden} }}");
        let bias = format!("RecurrentBias {{ hidden: {hidden} }}");
        let tensor = |suffix, shape, role: &str| Tensor {
            suffix,
            shape,
            role: role.to_owned(),
        };
        vec![
            tensor("weight_ih_l0", vec![rows, input], &weight),
            tensor("weight_hh_l0", vec![rows, hidden], &weight),
            tensor("bias_ih_l0", vec![rows], &bias),
            tensor("bias_hh_l0", vec![rows], &bias),
        ]
    }
}

/// The shape rules: a recurrent layer gives a sequence of its width; a reduction gives a vector
/// of its input's width.
pub fn output_shape(kind: &LayerKind, input: Option<Shape>) -> Option<Shape> {
    match kind {
        LayerKind::Recurrent { width, .. } => Some(Shape::Sequence(width.value)),
        LayerKind::Reduce { .. } => input.map(|shape| Shape::Vector(shape.len())),
        _ => unreachable!("called for recurrent layers and reductions only"),
    }
}

/// `a sequence of 12-feature steps`, `a vector of 12`.
fn described(shape: Shape) -> String {
    match shape {
        Shape::Vector(width) => format!("a vector of {width}"),
        Shape::Sequence(width) => format!("a sequence of {width}-feature steps"),
        Shape::Signal { .. } | Shape::Image { .. } => {
            format!("a feature map {}", crate::conv::declared_shape(shape))
        }
    }
}

/// Whether the model reads a sequence (then `expand::recurrent` writes its code).
pub fn is_sequence_model(model: &Model<'_>) -> bool {
    matches!(model.input, Some(Shape::Sequence(_)))
}

/// The rules for sequences, all reported together.
pub fn check(model: &Model<'_>, errors: &mut Errors) {
    check_sequence_inputs(model, errors);
    check_residual_kinds(model, errors);
    check_classifier_reduced(model, errors);
    check_modes_on_sequences(model, errors);
    check_sequence_loss(model, errors);
}

// input: seq(12), r1: gru(32), last: last, out: dense(9)   (no `loss:`)
fn check_sequence_loss(model: &Model<'_>, errors: &mut Errors) {
    if is_sequence_model(model) && !model.has_loss() {
        errors.spanned(
            &model.net.name,
            format!(
                "`{}` reads a sequence but declares no loss; an inference-only sequence network \
                 is not generated yet: add `loss: <loss>,` as the last entry",
                shown(&model.net.name)
            ),
        );
    }
}

// input: seq(12), r1: gru(32), last: last, drop: dropout(0.2)   (not generated for sequences)
fn check_modes_on_sequences(model: &Model<'_>, errors: &mut Errors) {
    if !matches!(model.input, Some(Shape::Sequence(_))) {
        return;
    }
    for node in &model.nodes {
        let (keyword, kind) = match &node.layer.kind {
            LayerKind::Dropout { keyword, .. } => (keyword, "dropout"),
            LayerKind::BatchNorm { keyword, .. } => (keyword, "batch_norm"),
            _ => continue,
        };
        errors.at(
            keyword.span(),
            format!(
                "`{}`: `{kind}` is not available in a sequence network yet (its training mode \
                 is generated for vector networks only); remove it",
                shown(&node.layer.name),
            ),
        );
    }
}

// input: 12,  r1: gru(32)   (a vector)      r1: gru(32), last: last, again: last
fn check_sequence_inputs(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(shape) = node
            .input
            .filter(|shape| !matches!(shape, Shape::Sequence(_)))
        else {
            continue;
        };
        let name = shown(&node.layer.name);
        // A vector input network wants `seq`; in a sequence network the value was reduced.
        let fix = match model.input {
            Some(Shape::Vector(features)) => format!(
                "declare `input: seq({features})` to read a sequence of {features}-feature steps"
            ),
            Some(Shape::Sequence(_)) => format!("move `{name}` before the reduction"),
            _ => "a recurrent network reads a sequence: declare `input: seq(F)`".to_owned(),
        };
        match &node.layer.kind {
            LayerKind::Recurrent { keyword, cell, .. } => errors.at(
                keyword.span(),
                format!(
                    "`{name}`: `{}` runs over a sequence, but its input is {}; {fix}",
                    cell.keyword(),
                    described(shape)
                ),
            ),
            LayerKind::Reduce {
                keyword, reduction, ..
            } => {
                let fix = match model.input {
                    Some(Shape::Vector(_)) => fix,
                    _ => "a sequence is reduced once; remove it".to_owned(),
                };
                errors.at(
                    keyword.span(),
                    format!(
                        "`{name}`: `{}` reduces a sequence, but its input is already {}; {fix}",
                        reduction.keyword(),
                        described(shape)
                    ),
                );
            }
            _ => {}
        }
    }
}

// r1: gru(8), last: last, out: dense(8) + r1   (a vector plus a sequence)
fn check_residual_kinds(model: &Model<'_>, errors: &mut Errors) {
    for node in &model.nodes {
        let Some(residual) = &node.residual else {
            continue;
        };
        let (Some(source), Some(output)) = (residual.shape, node.output) else {
            continue;
        };
        if matches!(source, Shape::Sequence(_)) != matches!(output, Shape::Sequence(_)) {
            errors.spanned(
                &residual.syntax.source,
                format!(
                    "residual `{}` is {} but `{}` outputs {}; a residual adds values of the same \
                     kind: step by step within the sequence, or vectors after the reduction",
                    shown(&residual.syntax.source),
                    described(source),
                    shown(&node.layer.name),
                    described(output)
                ),
            );
        }
    }
}

// r1: gru(32), out: dense(9), loss: softmax_cross_entropy   (no `last` or `mean` before `out`)
fn check_classifier_reduced(model: &Model<'_>, errors: &mut Errors) {
    let (Some(last), Some(loss)) = (
        model.nodes.last().filter(|_| model.ends_with_node),
        model.net.losses.first(),
    ) else {
        return;
    };
    if let (LossKind::SoftmaxCrossEntropy, Some(Shape::Sequence(width))) = (loss.kind, last.output)
    {
        errors.at(
            loss.ident.span(),
            format!(
                "softmax_cross_entropy classifies a whole sequence, but `{}` outputs a sequence \
                 of {width}-feature steps; reduce it before the classifier with `{}: {}` (the \
                 last step) or `pool: {}` (the mean over steps)",
                shown(&last.layer.name),
                LAST,
                LAST,
                MEAN
            ),
        );
    }
}
