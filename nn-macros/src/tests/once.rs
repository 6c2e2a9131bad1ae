//! Each computation is generated once: the forward pass of a sample is one method that
//! `forward`, `backward` and `sgd_step` call, the batch's another, so the code (and the release
//! build) grows with the network once per mode rather than once per method.

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
    // Sample and batch: two computations of each binding, no more.
    for binding in [
        "z_h1",
        "h_h1",
        "z_h2",
        "h_h2",
        "z_h3",
        "h_h3",
        "eps_norm",
        "xhat_norm",
        "z_norm",
        "z_out",
    ] {
        assert_eq!(
            lets(expansion.clone(), binding),
            2,
            "`let {binding}` should appear once per mode"
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
