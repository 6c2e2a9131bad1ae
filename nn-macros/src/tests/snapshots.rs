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
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
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
        let snapshot = dir.join(format!("{stem}.expanded.rs"));
        if overwrite {
            std::fs::write(&snapshot, &expanded).expect("writable snapshot");
        } else {
            let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
            assert!(
                expected == expanded,
                "{} differs from the expansion; rerun with NN_SNAPSHOTS=overwrite and review the diff",
                snapshot.display()
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
