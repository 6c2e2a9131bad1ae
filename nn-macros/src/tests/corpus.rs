//! The macro never panics, and every error it reports points into the user's tokens.
//!
//! A corpus of malformed declarations, built from a few valid ones (every truncation, literals
//! of the wrong type, identifiers swapped for DSL keywords, seeded shuffles, deletions and
//! duplications) and hand-written mistakes, goes through the whole pipeline. For each input:
//! no panic; if `parse` + `check` report errors, the expansion carries `compile_error!` and each
//! error starts at a token of the input (not at the call site); if they report none (a mutation
//! can stay valid), the expansion has no `compile_error!` and parses as Rust items.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::errors::Errors;
use crate::{check, expand_network, model, parse};

/// Valid declarations (the `network!` bodies) the mutations start from: together they use
/// every entry, layer kind, option, activation form and residual form of the grammar.
const VALID: &[&str] = &[
    "pub struct Xor { input: 2, hidden: dense(2, sigmoid), out: dense(1), loss: mse, }",
    "/// A network with residuals and a layer norm.
     #[derive(Clone, Debug)]
     pub struct Mixed {
         input: 4,
         h1: dense(8, tanh),
         h2: dense(8, relu) + h1,
         h3: dense(6, gelu, bias = false) + project(h1),
         norm: layer_norm(eps = 1e-3),
         out: dense(3),
         loss: softmax_cross_entropy,
     }",
    "pub(crate) struct Options {
         input: 3,
         /// The first layer.
         a: dense(5, leaky_relu(0.2), bias = false,),
         b: layer_norm(relu, eps = 1e-4) + project(input),
         c: dense(5, gelu(tanh)) + a,
         d: layer_norm,
         e: dense(1, step),
         loss: binary_cross_entropy
     }",
    "struct Acts {
         input: 6,
         a: dense(6, identity) + input,
         b: dense(6, softplus),
         c: dense(6, silu) + b,
         d: dense(4, softmax),
         loss: mse,
     }",
    "#[cfg(all())]
     #[cfg_attr(all(), derive(Default))]
     struct r#Raw {
         input: 2,
         /// A layer named with a keyword.
         r#type: dense(2),
         out: dense(1) + project(r#type),
         loss: mse,
     }",
    "struct Conv {
         input: [2, 12, 10],
         c1: conv2d(4, kernel = (3, 2), stride = (2, 1), padding = 1, dilation = (1, 2), relu),
         c2: conv2d(4, kernel = 3, padding = same, bias = false) + c1,
         p: max_pool(2, stride = 1),
         c3: conv2d(6, kernel = 1, tanh) + project(p),
         a: avg_pool((2, 2)),
         g: global_avg_pool,
         out: dense(3),
         loss: softmax_cross_entropy,
     }",
    "struct Signal {
         input: [3, 20],
         c1: conv1d(4, kernel = 5, stride = 2, padding = 2),
         p: max_pool(2),
         out: dense(2),
         loss: mse,
     }",
];

/// Mistakes written by hand: the header, entry boundaries, and forms no mutation reaches.
const MALFORMED: &[&str] = &[
    "",
    "struct",
    "pub",
    "pub struct",
    "pub struct Net",
    "pub struct Net;",
    "pub struct Net()",
    "pub struct Net {}",
    "pub struct Net { , }",
    "pub struct Net { ,, input: 2 }",
    "pub struct Net<T> { input: 2, out: dense(1), loss: mse }",
    "pub struct Net<'a, T: Copy> where T: Copy { input: 2, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1), loss: mse } extra",
    "pub struct Net { input: 2, out: dense(1), loss: mse } { }",
    "enum Net { input: 2 }",
    "fn Net() {}",
    "pub struct 3 { input: 2 }",
    "#[doc] pub struct Net { input: 2, out: dense(1), loss: mse }",
    "# pub struct Net { input: 2, out: dense(1), loss: mse }",
    "pub struct Net { input 2, out: dense(1), loss: mse }",
    "pub struct Net { input: , out: dense(1), loss: mse }",
    "pub struct Net { input: 2 3, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1) loss: mse }",
    "pub struct Net { input: 2, out: dense(1), loss: }",
    "pub struct Net { input: 2, out: dense(1), loss: mse mse }",
    "pub struct Net { input: 2, out: dense(1), loss: 3 }",
    "pub struct Net { input: 2, out: dense(1), loss: mse() }",
    "pub struct Net { #[doc = \"x\"] input: 2, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, #[doc = \"x\"] loss: mse, out: dense(1) }",
    "pub struct Net { input: 2, out: dense(), loss: mse }",
    "pub struct Net { input: 2, out: dense(,), loss: mse }",
    "pub struct Net { input: 2, out: dense(1,,), loss: mse }",
    "pub struct Net { input: 2, out: dense(1 relu), loss: mse }",
    "pub struct Net { input: 2, out: dense[1], loss: mse }",
    "pub struct Net { input: 2, out: dense{1}, loss: mse }",
    "pub struct Net { input: 2, out: dense(1, bias), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, bias =), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, bias = 1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, bias = yes), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, relu = true), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, relu()), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, relu(1)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, leaky_relu()), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, leaky_relu(x)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, leaky_relu(1e999)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, leaky_relu(-0.1, 2)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, leaky_relu(\"0.1\")), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, gelu()), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, gelu(erf)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, gelu(tanh, tanh)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, gelu(3)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, 3), loss: mse }",
    "pub struct Net { input: 2, out: dense(1, \"relu\"), loss: mse }",
    "pub struct Net { input: 2, out: dense(-1), loss: mse }",
    "pub struct Net { input: -2, out: dense(1), loss: mse }",
    "pub struct Net { input: 99999999999999999999999, out: dense(1), loss: mse }",
    "pub struct Net { input: 18446744073709551615, out: dense(18446744073709551615), loss: mse }",
    "pub struct Net { input: 4294967296, h: dense(4294967296), out: dense(4294967296), loss: mse }",
    "pub struct Net { input: 0x10, out: dense(1_0), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps =), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps = -1.0), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps = 1e999), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps = true), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(eps = 1e-5, eps = 1e-5), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(relu relu), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm(bias = false), out: dense(1), loss: mse }",
    "pub struct Net { input: 1, n: layer_norm, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, n: layer_norm 3, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1) +, loss: mse }",
    "pub struct Net { input: 2, out: dense(1) + 3, loss: mse }",
    "pub struct Net { input: 2, out: dense(1) - input, loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + input + input, loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + project, loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + project(), loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + project(input, input), loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + project(3), loss: mse }",
    "pub struct Net { input: 2, out: dense(2) + project(out), loss: mse }",
    "pub struct Net { input: 2, a: dense(2), a_proj: dense(2), out: dense(2) + project(a), loss: mse }",
    "pub struct Net { input: 2, a: dense(3), out: dense(2) + project(a), out_proj: dense(2), loss: mse }",
    "pub struct Net { input: 2, out: dense(2, softmax), loss: softmax_cross_entropy }",
    "pub struct Net { input: 2, out: dense(1, sigmoid), loss: binary_cross_entropy }",
    "pub struct Net { input: 2, out: dense(1), loss: softmax_cross_entropy }",
    "pub struct Net { input: 2, loss: mse }",
    "pub struct Net { loss: mse, input: 2 }",
    "pub struct Net { out: dense(1) }",
    "pub struct Net { input: 2, input: 3, out: dense(1), loss: mse, loss: mse }",
    "pub struct Net { loss: mse, out: dense(1), input: 2 }",
    "pub struct Net { input: 2, out: dense(1), out: dense(1), loss: mse }",
    "pub struct Net { input: 2, 3: dense(1), loss: mse }",
    "pub struct Net { input: 2, type: dense(1), loss: mse }",
    "pub struct Net { input: 2, r#type: dense(1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1), loss: mse, , }",
    "pub struct Net { input: 0, h: dense(0), out: dense(1) + h, loss: mse }",
    "pub struct Net { input: 2, h: dense(3, rleu), out: dense(3) + h, loss: softmax_cross_entropy }",
    "pub struct Net { input: 2, h: dense(1), out: dense(3, rleu), loss: softmax_cross_entropy }",
    "pub struct Net { input: 2.0, out: dense(1), loss: mse }",
    "pub struct Net { input: 2, out: dense(1), loss: hinge }",
    "pub struct Net { input: 2, out: dense(1), loss: mse; }",
    "pub struct Net { input: 2; out: dense(1); loss: mse }",
    "pub struct Net { input = 2, out = dense(1), loss = mse }",
    "pub struct Net { input: (2), out: dense((1)), loss: mse }",
    "pub struct Net { input: 2, out: dense(1), loss: mse, #[doc = \"x\"] }",
    "pub struct Net { input: 2, out: dense(1), #[cfg(test)] loss: mse }",
];

/// Replacements for a literal: each a wrong type or out of range (as one or more tokens).
const LITERALS: &[&str] = &[
    "\"64\"",
    "64.0",
    "'a'",
    "-3",
    "99999999999999999999999",
    "0",
    "1e999",
    "64u8",
    "true",
    "0x10",
    "1_000",
    "b'x'",
    "2.5f32",
    "-0.0",
];

/// Replacements for an identifier: the DSL's keywords, Rust keywords, and names of layers.
const IDENTS: &[&str] = &[
    "input",
    "loss",
    "dense",
    "layer_norm",
    "project",
    "bias",
    "eps",
    "relu",
    "softmax",
    "sigmoid",
    "leaky_relu",
    "gelu",
    "tanh",
    "mse",
    "softmax_cross_entropy",
    "binary_cross_entropy",
    "h1",
    "out",
    "struct",
    "pub",
    "self",
    "r#type",
    "_",
];

/// Seeded random mutations of each valid declaration (each mutation is one input).
const RANDOM_PER_DECLARATION: usize = 500;

/// A token stream flattened into leaves and delimiters, so it can be cut and mutated anywhere
/// and rebuilt with every group re-balanced (and with the original spans).
#[derive(Clone)]
enum Item {
    Open(Delimiter, Span),
    Close,
    Leaf(TokenTree),
}

fn flatten(tokens: TokenStream, items: &mut Vec<Item>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(group) => {
                items.push(Item::Open(group.delimiter(), group.span()));
                flatten(group.stream(), items);
                items.push(Item::Close);
            }
            leaf => items.push(Item::Leaf(leaf)),
        }
    }
}

/// Rebuilds tokens from items: a `Close` without its `Open` is dropped, and groups still open
/// at the end are closed there.
fn rebuild(items: &[Item]) -> TokenStream {
    let mut stack: Vec<(Delimiter, Span, TokenStream)> =
        vec![(Delimiter::None, Span::call_site(), TokenStream::new())];
    for item in items {
        match item {
            Item::Open(delimiter, span) => stack.push((*delimiter, *span, TokenStream::new())),
            Item::Close => close(&mut stack),
            Item::Leaf(tree) => push(&mut stack, tree.clone()),
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    stack.pop().map(|(_, _, tokens)| tokens).unwrap_or_default()
}

fn close(stack: &mut Vec<(Delimiter, Span, TokenStream)>) {
    if stack.len() > 1
        && let Some((delimiter, span, tokens)) = stack.pop()
    {
        let mut group = Group::new(delimiter, tokens);
        group.set_span(span);
        push(stack, TokenTree::Group(group));
    }
}

fn push(stack: &mut [(Delimiter, Span, TokenStream)], tree: TokenTree) {
    if let Some((_, _, tokens)) = stack.last_mut() {
        tokens.extend([tree]);
    }
}

/// `text` as tokens (one or several), every one re-spanned at `span` so that errors on them
/// still point into the input.
fn respanned(text: &str, span: Span) -> Vec<Item> {
    let tokens: TokenStream = text.parse().expect("replacement tokenizes");
    let mut items = Vec::new();
    flatten(tokens, &mut items);
    for item in &mut items {
        match item {
            Item::Open(_, s) => *s = span,
            Item::Close => {}
            Item::Leaf(tree) => tree.set_span(span),
        }
    }
    items
}

fn leaf_span(item: &Item) -> Option<Span> {
    match item {
        Item::Leaf(tree) => Some(tree.span()),
        _ => None,
    }
}

/// `text` as tokens, starting on line 2: the fallback's call site is line 1, column 0, so an
/// error at the call site can be told from one at the first token.
fn tokenize(text: &str) -> TokenStream {
    format!("\n    {text}")
        .parse()
        .expect("corpus text tokenizes")
}

/// Every input of the corpus.
fn corpus() -> Vec<TokenStream> {
    let mut inputs: Vec<TokenStream> = MALFORMED.iter().map(|text| tokenize(text)).collect();
    let mut rng = StdRng::seed_from_u64(0x6e6e);
    for text in VALID {
        let tokens = tokenize(text);
        let mut items = Vec::new();
        flatten(tokens.clone(), &mut items);
        inputs.push(tokens);
        // Every truncation: cut after each item, open groups closed where the cut falls.
        for end in 0..items.len() {
            inputs.push(rebuild(&items[..end]));
        }
        // Every single item removed.
        for skip in 0..items.len() {
            let mut cut = items.clone();
            cut.remove(skip);
            inputs.push(rebuild(&cut));
        }
        // Every literal swapped for each wrong one; every identifier for each keyword.
        for (index, item) in items.iter().enumerate() {
            let Item::Leaf(tree) = item else { continue };
            let replacements = match tree {
                TokenTree::Literal(_) => LITERALS,
                TokenTree::Ident(_) => IDENTS,
                _ => continue,
            };
            for replacement in replacements {
                let mut swapped = items[..index].to_vec();
                swapped.extend(respanned(replacement, tree.span()));
                swapped.extend_from_slice(&items[index + 1..]);
                inputs.push(rebuild(&swapped));
            }
        }
        for _ in 0..RANDOM_PER_DECLARATION {
            inputs.push(rebuild(&mutate(&items, &mut rng)));
        }
    }
    inputs
}

/// One to three random edits: shuffle a window, delete a run, duplicate a run, or swap a leaf
/// for a wrong literal or a keyword.
fn mutate(items: &[Item], rng: &mut StdRng) -> Vec<Item> {
    let mut items = items.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        if items.is_empty() {
            break;
        }
        let at = rng.random_range(0..items.len());
        let len = rng.random_range(1..=6).min(items.len() - at);
        match rng.random_range(0..5) {
            0 => items[at..at + len].shuffle(rng),
            1 => {
                items.drain(at..at + len);
            }
            2 => {
                let run: Vec<Item> = items[at..at + len].to_vec();
                let to = rng.random_range(0..=items.len());
                items.splice(to..to, run);
            }
            3 => {
                if let Some(span) = leaf_span(&items[at]) {
                    let text = LITERALS[rng.random_range(0..LITERALS.len())];
                    items.splice(at..=at, respanned(text, span));
                }
            }
            _ => {
                if let Some(span) = leaf_span(&items[at]) {
                    let text = IDENTS[rng.random_range(0..IDENTS.len())];
                    items.splice(at..=at, respanned(text, span));
                }
            }
        }
    }
    items
}

/// `(line, column)` from start (inclusive) to end (exclusive).
type Range = ((usize, usize), (usize, usize));

/// Where each token of `tokens` lies (each delimiter of a group too): `(line, column)` from
/// start (inclusive) to end (exclusive). An error must start inside one of them.
fn token_ranges(tokens: TokenStream, ranges: &mut Vec<Range>) {
    let range = |span: Span| {
        let (start, end) = (span.start(), span.end());
        ((start.line, start.column), (end.line, end.column))
    };
    for tree in tokens {
        match tree {
            TokenTree::Group(group) => {
                ranges.push(range(group.span_open()));
                ranges.push(range(group.span_close()));
                token_ranges(group.stream(), ranges);
            }
            leaf => ranges.push(range(leaf.span())),
        }
    }
}

/// Whether the input was valid, or what went wrong with it.
fn examine(input: &TokenStream) -> Result<bool, String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut errors = Errors::default();
        let network = parse::parse_network(input.clone(), &mut errors);
        let name = network.as_ref().map(|network| network.name.to_string());
        let valid =
            network.is_some_and(|network| check::check(&model::build(&network), &mut errors));
        let spans: Vec<_> = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error
                .into_iter()
                .map(|e| (e.span().start(), e.to_string()))
                .collect(),
        };
        (valid, name, spans, expand_network(input.clone()))
    }));
    let (valid, name, errors, output) = outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("panicked: {message}")
    })?;
    let has_compile_error = output.to_string().contains("compile_error");
    if valid != errors.is_empty() {
        return Err(format!(
            "`check` returned a model: {valid}, but reported {} errors",
            errors.len()
        ));
    }
    if valid {
        if has_compile_error {
            return Err("valid, but the expansion has `compile_error!`".to_owned());
        }
        return syn::parse2::<syn::File>(output)
            .map(|_| true)
            .map_err(|e| format!("valid, but the expansion does not parse: {e}"));
    }
    if !has_compile_error {
        return Err("errors reported, but the expansion has no `compile_error!`".to_owned());
    }
    // Once the header parsed, the stub keeps the name defined (STYLE: no "cannot find type").
    if let Some(name) = name
        && !output.to_string().contains(&format!("struct {name}"))
    {
        return Err(format!(
            "errors reported, but no stub `struct {name}` beside them"
        ));
    }
    let mut ranges = Vec::new();
    token_ranges(input.clone(), &mut ranges);
    for (start, message) in &errors {
        let at = (start.line, start.column);
        // An empty input has no token to point at: the call site is right.
        if !input.is_empty() && !ranges.iter().any(|&(from, to)| from <= at && at < to) {
            return Err(format!(
                "error `{message}` at {}:{}, not at a token of the input",
                start.line, start.column
            ));
        }
    }
    Ok(false)
}

#[test]
fn malformed_declarations_report_errors_without_panicking() {
    let inputs = corpus();
    let mut failures = String::new();
    let mut failed = 0;
    let mut valid = 0;
    for input in &inputs {
        match examine(input) {
            Ok(is_valid) => valid += usize::from(is_valid),
            Err(problem) => {
                failed += 1;
                if failed <= 20 {
                    let _ = writeln!(failures, "{problem}\n    input: {input}");
                }
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} inputs failed; the first:\n{failures}",
        inputs.len()
    );
    assert!(
        inputs.len() >= 3000,
        "the corpus shrank to {} inputs",
        inputs.len()
    );
    println!("{} inputs, {valid} of them valid", inputs.len());
    // Most mutations must break the declaration, or the corpus tests little.
    assert!(
        valid * 5 < inputs.len(),
        "{valid} of {} inputs are valid",
        inputs.len()
    );
}

/// Every distinct message the corpus draws, with one input that draws it: to review the
/// wording (`cargo test -p nn-macros print_messages -- --ignored --nocapture`).
#[test]
#[ignore = "prints for review; asserts nothing"]
fn print_messages() {
    let mut messages = std::collections::BTreeMap::new();
    for input in corpus() {
        let mut errors = Errors::default();
        if let Some(network) = parse::parse_network(input.clone(), &mut errors) {
            check::check(&model::build(&network), &mut errors);
        }
        for error in errors.finish().err().into_iter().flatten() {
            messages
                .entry(error.to_string())
                .or_insert_with(|| input.to_string());
        }
    }
    for (message, input) in messages {
        println!("{message}\n    <- {input}");
    }
}
