//! [`LoadOptions`]' renames and prefix: which file name each tensor gets, and the errors of a
//! mapping that does not fit the network.

use super::*;

/// The file names `options` gives `Tiny`'s tensors, in the network's order.
fn names(options: &LoadOptions) -> Result<Vec<String>, WeightsError> {
    options.file_names(Tiny::<f32>::TENSORS)
}

#[test]
fn default_names_are_the_networks() {
    let all: Vec<&str> = Tiny::<f32>::TENSORS.iter().map(|info| info.name).collect();
    assert_eq!(names(&LoadOptions::new()).unwrap(), all);
}

#[test]
fn a_layer_rename_covers_its_tensors_and_the_longest_rename_wins() {
    let options = LoadOptions::new()
        .rename("h1", "0")
        .rename("h2", "1")
        .rename("h2.proj.weight", "skip.w")
        .rename("out.bias", "b")
        .prefix("model.");
    assert_eq!(
        names(&options).unwrap(),
        [
            "model.0.weight",
            "model.0.bias",
            "model.skip.w",
            "model.norm.weight",
            "model.norm.bias",
            "model.out.weight",
            "model.b",
        ]
    );
}

/// A rename matches whole dot-separated parts: `h` is not a prefix of `h1`'s parts.
#[test]
fn error_rename_naming_no_tensor() {
    for from in ["h", "h1.weigth", "h1.weight.x", ""] {
        let error = names(&LoadOptions::new().rename(from, "0")).unwrap_err();
        assert!(matches!(&error, WeightsError::UnknownRename { from: f, .. } if f == from));
    }
    let error = names(
        &LoadOptions::new()
            .rename("h1", "0")
            .rename("h1.weigth", "w"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "rename `h1.weigth` names no tensor or layer of the network, whose tensors are \
         `h1.weight`, `h1.bias`, `out.weight`, `norm.weight`, `h2.proj.weight`, `out.bias`, \
         `norm.bias` (closest first); rename one of those, or a layer such as `h1`"
    );
}

#[test]
fn error_two_tensors_mapped_to_one_name() {
    let error = names(&LoadOptions::new().rename("h1.bias", "out.bias")).unwrap_err();
    assert!(
        matches!(&error, WeightsError::DuplicateFileName { first, second, file_name }
        if first == "h1.bias" && second == "out.bias" && file_name == "out.bias")
    );
    assert_eq!(
        error.to_string(),
        "tensors `h1.bias` and `out.bias` both map to `out.bias` in the file; give each tensor \
         its own name"
    );
    // Loading and saving report it before reading or writing anything.
    let mut net = numbered::<f32>();
    let options = LoadOptions::new().rename("h1", "x").rename("out", "x");
    let error = load_from_bytes_with(&mut net, b"not even a file", &options).unwrap_err();
    assert_eq!(net, numbered::<f32>());
    assert!(matches!(error, WeightsError::DuplicateFileName { .. }));
    assert!(matches!(
        to_bytes_with(&net, &options),
        Err(WeightsError::DuplicateFileName { .. })
    ));
}

/// A file written with options reads back with them, bit for bit, and under its names.
#[test]
fn save_and_load_with_the_same_options_round_trip() {
    let options = LoadOptions::new().rename("h2.proj", "skip").prefix("net.");
    let net = numbered::<f64>();
    let bytes = to_bytes_with(&net, &options).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut stored = file.names();
    stored.sort();
    assert_eq!(
        stored,
        [
            "net.h1.bias",
            "net.h1.weight",
            "net.norm.bias",
            "net.norm.weight",
            "net.out.bias",
            "net.out.weight",
            "net.skip.weight",
        ]
    );
    let mut again = Tiny::<f64>::zeros();
    load_from_bytes_with(&mut again, &bytes, &options).unwrap();
    assert_eq!(again, net);

    // The missing tensor's message says which name was looked for.
    let error = load_error_with(&to_bytes(&numbered::<f32>()), &options);
    assert_eq!(
        error.to_string(),
        "tensor `h1.weight` (shape [3, 2]), looked for as `net.h1.weight`, is missing from the \
         file, which has `h1.weight`, `norm.weight`, `out.weight`, `h2.proj.weight`, `h1.bias`, \
         `norm.bias`, `out.bias` (closest first)"
    );
    assert!(
        matches!(&error, WeightsError::MissingTensor { name, looked_for, .. }
        if name == "h1.weight" && &**looked_for == "net.h1.weight")
    );
}

/// Loads `bytes` with `options` into a numbered `Tiny<f32>`, asserts that it failed and left
/// the network unchanged, and returns the error.
fn load_error_with(bytes: &[u8], options: &LoadOptions) -> WeightsError {
    let mut net = numbered::<f32>();
    let error = load_from_bytes_with(&mut net, bytes, options).unwrap_err();
    assert_eq!(net, numbered::<f32>(), "a failed load changed the network");
    error
}
