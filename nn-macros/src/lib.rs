//! The `network!` procedural macro. Use it through `nn-runtime`, which re-exports it with the
//! runtime the generated code needs; the grammar is documented there.
//!
//! One pipeline, one stage per module, as serde_derive reads: `parse` (tokens → `syntax`, the
//! declaration as written, spans kept) → `model` (nodes with their shapes) → `check` (every
//! rule, all errors at once) → `expand` (forward and backward from the same model).

mod causal;
mod check;
mod conv;
mod embed;
mod errors;
mod expand;
mod model;
mod parse;
mod recurrent;
mod syntax;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

/// Use it as `nn_runtime::network!`: `nn-runtime` re-exports this macro next to the runtime its
/// expansion names, and documents the grammar with an example.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand_network(input.into()).into()
}

/// Embeds a trained weights file into the binary as a `static` network, checked against the
/// network during compilation; see `nn_runtime::embed!`.
#[proc_macro]
pub fn embed(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    embed::expand_embed(input.into(), invoking_dir()).into()
}

/// The whole pipeline on `proc_macro2` tokens (so tests can run it): the expansion, or the
/// errors as `compile_error!`s next to a stub of the struct.
fn expand_network(input: TokenStream) -> TokenStream {
    let mut errors = errors::Errors::default();
    let Some(network) = parse::parse_network(input, &mut errors) else {
        return compile_errors(errors);
    };
    let model = model::build(&network);
    if check::check(&model, &mut errors) {
        let _ = errors.finish();
        expand::expand(&model)
    } else {
        let mut output = expand::expand_stub(&network);
        output.extend(compile_errors(errors));
        output
    }
}

fn compile_errors(errors: errors::Errors) -> TokenStream {
    match errors.finish() {
        Ok(()) => TokenStream::new(),
        Err(error) => error.to_compile_error(),
    }
}

/// The directory of the source file that invokes the macro, made absolute against rustc's
/// working directory (`local_file` may be relative to it).
fn invoking_dir() -> Option<std::path::PathBuf> {
    let file = proc_macro::Span::call_site().local_file()?;
    let file = if file.is_absolute() {
        file
    } else {
        std::env::current_dir().ok()?.join(file)
    };
    file.parent().map(std::path::Path::to_path_buf)
}
