//! Expansion snapshots: `tests/expand/<net>.rs` formatted with prettyplease against
//! `tests/expand/<net>.expanded.rs`.

use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};

use crate::expand_network;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The body of the first `network! { … }` in a file.
fn macro_input(source: &str) -> TokenStream {
    let tokens: TokenStream = source.parse().expect("the snapshot source tokenizes");
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for window in trees.windows(3) {
        if let [
            TokenTree::Ident(name),
            TokenTree::Punct(bang),
            TokenTree::Group(body),
        ] = window
            && name == "network"
            && bang.as_char() == '!'
        {
            return body.stream();
        }
    }
    panic!("no `network! {{ … }}` in the snapshot source")
}

fn pretty(tokens: TokenStream) -> String {
    let mut file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    let mut bodies = Vec::new();
    for item in &mut file.items {
        hide_with_alloc_bodies(item, &mut bodies);
    }
    splice(&prettyplease::unparse(&file), &bodies)
}

/// Puts each hidden body back in place of its mark, indented as the mark (bodies may hold
/// marks of their own).
fn splice(text: &str, bodies: &[(String, String)]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match bodies.iter().find(|(mark, _)| line.trim() == mark) {
            Some((_, body)) => {
                let indent = &line[..line.len() - line.trim_start().len()];
                for body_line in splice(body, bodies).lines() {
                    if !body_line.is_empty() {
                        out.push_str(indent);
                    }
                    out.push_str(body_line);
                    out.push('\n');
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// prettyplease prints a macro's body as raw tokens: the items inside
/// `__private::with_alloc! { … }` (the batch methods) are formatted on their own and put back
/// in place of a mark, so the snapshot reads as the code does.
fn hide_with_alloc_bodies(item: &mut syn::Item, bodies: &mut Vec<(String, String)>) {
    match item {
        syn::Item::Macro(item) => hide_with_alloc_body(&mut item.mac, bodies),
        syn::Item::Impl(item) => {
            for item in &mut item.items {
                if let syn::ImplItem::Macro(item) = item {
                    hide_with_alloc_body(&mut item.mac, bodies);
                }
            }
        }
        syn::Item::Const(item) => {
            if let syn::Expr::Block(block) = &mut *item.expr {
                for statement in &mut block.block.stmts {
                    match statement {
                        syn::Stmt::Item(item) => hide_with_alloc_bodies(item, bodies),
                        syn::Stmt::Macro(statement) => {
                            hide_with_alloc_body(&mut statement.mac, bodies)
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
}

fn hide_with_alloc_body(mac: &mut syn::Macro, bodies: &mut Vec<(String, String)>) {
    let Some(name) = mac.path.segments.last().map(|s| s.ident.to_string()) else {
        return;
    };
    // `require_alloc! { "message", items }` (a sequence network): the message, then the items.
    let (message, tokens) = match name.as_str() {
        "with_alloc" => (None, mac.tokens.clone()),
        "require_alloc" => {
            let parser = |input: syn::parse::ParseStream| {
                let message: syn::LitStr = input.parse()?;
                input.parse::<syn::Token![,]>()?;
                Ok((message, input.parse::<proc_macro2::TokenStream>()?))
            };
            let (message, tokens) = syn::parse::Parser::parse2(parser, mac.tokens.clone())
                .expect("require_alloc! holds a message and items");
            (Some(message), tokens)
        }
        _ => return,
    };
    let mut items: syn::File = syn::parse2(tokens).expect("the macro holds items");
    for item in &mut items.items {
        hide_with_alloc_bodies(item, bodies);
    }
    let mark = format!("__with_alloc_body_{}", bodies.len());
    let ident = proc_macro2::Ident::new(&mark, proc_macro2::Span::call_site());
    mac.tokens = quote::quote!(#ident);
    let mut body = message.map_or_else(String::new, |m| format!("{:?},\n", m.value()));
    body.push_str(&prettyplease::unparse(&items));
    bodies.push((mark, body));
}

/// `tests/expand/<net>.rs` expands to `tests/expand/<net>.expanded.rs`. With
/// `NN_SNAPSHOTS=overwrite` the snapshots are rewritten (then read the diff).
#[test]
fn expansion_snapshots() {
    let dir = workspace().join("tests/expand");
    let overwrite = std::env::var("NN_SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".rs"))
        else {
            continue;
        };
        if stem.ends_with(".expanded") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable snapshot source");
        let expanded = pretty(expand_network(macro_input(&source)));
        // A crate with `#![forbid(unsafe_code)]` can use `network!` (tests/pass.rs builds one).
        assert!(
            !expanded.contains("unsafe"),
            "the expansion of {stem} holds `unsafe`"
        );
        let snapshot = dir.join(format!("{stem}.expanded.rs"));
        if overwrite {
            std::fs::write(&snapshot, &expanded).expect("writable snapshot");
        } else {
            let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
            assert!(
                expected == expanded,
                "{} differs from the expansion (- snapshot, + expansion):\n{}\n\
                 rerun with NN_SNAPSHOTS=overwrite and review the diff",
                snapshot.display(),
                line_diff(&expected, &expanded)
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the snapshot sources in {}",
        dir.display()
    );
}

/// The lines that differ between `old` and `new`, `-`/`+` marked, with two lines of context
/// around each change (a longest-common-subsequence diff; snapshots are a few hundred lines).
fn line_diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = (0..lines.len()).filter(|&k| lines[k].0 != ' ').collect();
    let mut out = String::new();
    let mut last_shown = None;
    for (k, (mark, line)) in lines.iter().enumerate() {
        let near = changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
        if !near {
            continue;
        }
        if last_shown.is_some_and(|last| k > last + 1) || (last_shown.is_none() && k > 0) {
            out.push_str("...\n");
        }
        out.push_str(&format!("{mark}{line}\n"));
        last_shown = Some(k);
    }
    out
}

#[test]
fn line_diff_marks_changed_lines_with_context() {
    let old = "a\nb\nc\nd\ne\nf\ng\n";
    let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
    assert_eq!(line_diff(old, new), "...\n b\n c\n-d\n+D\n e\n f\n g\n+h\n");
}
