//! Each computation is generated once per use: the forward pass of a sample that keeps every
//! intermediate is one method that `backward`, `sgd_step` and `input_gradient` call, the
//! batch's another, and `forward` is a third pass keeping only the layers' outputs (no record
//! to fill and copy at inference), so the code (and the release build) grows with the network
//! a fixed number of times rather than once per method.

use proc_macro2::{TokenStream, TokenTree};

use crate::expand_network;

/// How many times `let <name>` (or `<name>` in a tuple pattern, `let (z_h1, <name>)`) occurs
/// anywhere in `tokens`.
fn lets(tokens: TokenStream, name: &str) -> usize {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut count = 0;
    for (index, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) => count += lets(group.stream(), name),
            TokenTree::Ident(keyword) if keyword == "let" => match trees.get(index + 1) {
                Some(TokenTree::Ident(binding)) if binding == name => count += 1,
                Some(TokenTree::Group(pattern)) => {
                    count += pattern
                        .stream()
                        .into_iter()
                        .filter(|t| matches!(t, TokenTree::Ident(binding) if binding == name))
                        .count();
                }
                _ => {}
            },
            _ => {}
        }
    }
    count
}

#[test]
fn every_forward_binding_is_computed_in_one_place_per_mode() {
    let expansion = expand_network(
        "pub struct Mixed {
             input: 4,
             h1: dense(8, tanh),
             h2: dense(8, relu) + h1,
             h3: dense(6, gelu, bias = false) + project(h1),
             norm: layer_norm(eps = 1e-3),
             out: dense(3),
             loss: softmax_cross_entropy,
         }"
        .parse()
        .expect("the declaration tokenizes"),
    );
    // The sample and batch records and `forward`: three computations of each output, no
    // more; a dense layer's `z` only in the records.
    for (binding, times) in [
        ("z_h1", 2),
        ("h_h1", 3),
        ("z_h2", 2),
        ("h_h2", 3),
        ("z_h3", 2),
        ("h_h3", 3),
        ("eps_norm", 3),
        ("xhat_norm", 3),
        ("z_norm", 3),
        ("z_out", 3),
    ] {
        assert_eq!(
            lets(expansion.clone(), binding),
            times,
            "`let {binding}` should appear once per record, and in `forward` if it is an output"
        );
    }
}

/// How many times the identifier `name` occurs anywhere in `tokens`.
fn idents(tokens: TokenStream, name: &str) -> usize {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => idents(group.stream(), name),
            TokenTree::Ident(ident) => usize::from(ident == name),
            _ => 0,
        })
        .sum()
}

#[test]
fn each_dense_layer_is_one_call_per_pass() {
    // What keeps the release build linear in depth: a hidden layer adds one call to a layer
    // function per pass, and no activation, product or bias code of its own.
    let expansion = expand_network(
        "pub struct Deep {
             input: 64,
             h1: dense(64, relu),
             h2: dense(64, relu) + h1,
             h3: dense(64, relu) + h2,
             h4: dense(64, relu) + h3,
             out: dense(10),
             loss: softmax_cross_entropy,
         }"
        .parse()
        .expect("the declaration tokenizes"),
    );
    for (function, calls) in [
        // `forward`, which keeps the outputs alone.
        ("dense_output", 2),
        ("dense_residual_output", 3),
        // Sample and batch records.
        ("dense_forward", 1),
        ("dense_forward_batch", 1),
        ("dense_residual_forward", 3),
        ("dense_residual_forward_batch", 3),
        // `backward` and `backward_batch` (and `out` in each): the first layer needs no `dx`.
        ("dense_grad_backward", 4),
        ("dense_grad_backward_batch", 4),
        ("dense_grad", 1),
        ("dense_grad_batch", 1),
        // `sgd_step`.
        ("dense_sgd_backward", 4),
        ("dense_sgd", 1),
        // `input_gradient` and `input_gradient_batch`: every layer.
        ("dense_backward", 5),
        ("dense_backward_batch", 5),
    ] {
        assert_eq!(
            idents(expansion.clone(), function),
            calls,
            "calls to `{function}`"
        );
    }
    // The ReLU is a type passed to those calls, never code written out per layer.
    for inline in [
        "relu",
        "relu_backward",
        "tr_matvec",
        "add_outer",
        "tr_matvec_descend",
    ] {
        assert_eq!(
            idents(expansion.clone(), inline),
            0,
            "`{inline}` in the expansion"
        );
    }
}
