//! What [`embed!`](crate::embed) expands to: the tensors of a weights file written into the
//! binary, and the `const fn`s that check them against a network and build its parameter
//! blocks during compilation.
//!
//! `embed!` reads the safetensors file when the crate is compiled and writes each tensor as an
//! [`EmbeddedTensor`]: name, dtype and shape as in the file, data as a byte string already in
//! nalgebra's column-major order (weights are transposed by the macro). The network's generated
//! `__embedded` then looks every parameter up by name through an [`EmbedSource`]. Checks are
//! plain `if`s in `const fn`s: a mismatch panics during constant evaluation, which rustc reports
//! as a compile error carrying the message (the file, the tensor, both shapes). A matching
//! tensor is copied into its block with one typed read, not an element loop, so evaluating
//! even a large model stays cheap.
//!
//! Every function on the way to a panic is `#[track_caller]`: rustc then reports the failure
//! at the call in `__embedded`, which `network!` spans at the layer's name, instead of a
//! backtrace through this file.
//!
//! Not a public API: generated code reaches it through `__private`.

use core::mem::size_of;

use nalgebra::{ArrayStorage, SMatrix, SVector};

use crate::{Dense, LayerNorm, Linear, Real, TensorInfo};

/// One tensor of a weights file, as `embed!` writes it into the binary.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedTensor {
    /// The name in the file (`h1.weight`).
    pub name: &'static str,
    /// The safetensors dtype in the file: `F32` or `F64` (`embed!` rejects any other).
    pub dtype: &'static str,
    /// The shape in the file: `[out, in]` for a weight.
    pub shape: &'static [usize],
    /// The data, little-endian, in nalgebra's column-major order: element `(r, c)` of an
    /// `[out, in]` weight at scalar position `c * out + r`; vectors as in the file.
    pub bytes: &'static [u8],
}

/// The tensors of one weights file, and what the messages name: the file as written in
/// `embed!` and the network being built from it (`Digits<f32>`).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct EmbedSource {
    file: &'static str,
    network: &'static str,
    /// The network's scalar: [`Real::DTYPE`].
    dtype: &'static str,
    tensors: &'static [EmbeddedTensor],
}

impl EmbedSource {
    /// The tensors of `file`, for the network `network` over the scalar `T`.
    pub const fn new<T: Real>(
        file: &'static str,
        network: &'static str,
        tensors: &'static [EmbeddedTensor],
    ) -> Self {
        Self {
            file,
            network,
            dtype: T::DTYPE,
            tensors,
        }
    }

    /// The tensor `name` as a `[R, C]` matrix (`shape` is `[R, C]`) or, for a vector, as an
    /// `[R, 1]` one (`shape` is `[R]`).
    ///
    /// # Panics
    /// At compile time, with a message naming the file and the tensor, if the file lacks the
    /// tensor or has it with another dtype or shape.
    #[track_caller]
    pub(crate) const fn matrix<T: Real, const R: usize, const C: usize>(
        &self,
        name: &str,
        shape: &[usize],
    ) -> SMatrix<T, R, C> {
        let tensor = self.tensor(name, shape);
        self.check_tensor(tensor, shape);
        let mut columns: [[T; R]; C] = if size_of::<[[T; R]; C]>() == tensor.bytes.len() {
            // SAFETY: `bytes` holds exactly `R * C` scalars of `T` (checked just above, after
            // `check_tensor` matched the dtype), column by column; `T` is `f32` or `f64`, for
            // which every bit pattern is a value, and `read_unaligned` needs no alignment.
            unsafe { core::ptr::read_unaligned(tensor.bytes.as_ptr().cast()) }
        } else {
            self.fail(
                Message::new()
                    .push("tensor `")
                    .push(name)
                    .push("` holds ")
                    .push_usize(tensor.bytes.len())
                    .push(" bytes, not the size of its shape; rebuild to re-embed the file"),
            )
        };
        if cfg!(target_endian = "big") {
            // SAFETY: `columns` is `size_of_val(&columns)` initialized bytes, exclusively
            // borrowed for the call.
            let bytes = unsafe {
                core::slice::from_raw_parts_mut(
                    (&raw mut columns).cast::<u8>(),
                    size_of::<[[T; R]; C]>(),
                )
            };
            swap_scalar_bytes(bytes, size_of::<T>());
        }
        SMatrix::from_array_storage(ArrayStorage(columns))
    }

    /// The tensor `name` as a vector (`[N]` in the file).
    #[track_caller]
    pub(crate) const fn vector<T: Real, const N: usize>(&self, name: &str) -> SVector<T, N> {
        self.matrix::<T, N, 1>(name, &[N])
    }

    /// The file's tensor `name`; `expected` is its shape in the network, for the message.
    #[track_caller]
    const fn tensor(&self, name: &str, expected: &[usize]) -> &'static EmbeddedTensor {
        let mut i = 0;
        while i < self.tensors.len() {
            if str_eq(self.tensors[i].name, name) {
                return &self.tensors[i];
            }
            i += 1;
        }
        let message = Message::new()
            .push("tensor `")
            .push(name)
            .push("` (shape ")
            .push_shape(expected)
            .push(") is missing from the file, but `")
            .push_network(self)
            .push("` needs it; ");
        let message = match self.closest(name) {
            Some(closest) => message
                .push("the closest name in the file is `")
                .push(closest)
                .push("`; "),
            None => message.push("the file has no tensors; "),
        };
        self.fail(message.push("embed a file saved from this network"))
    }

    /// The name of the file's tensor closest to `name` by [`edit_distance`] (the first of
    /// equals, in data order); `None` if the file has no tensors.
    const fn closest(&self, name: &str) -> Option<&'static str> {
        let mut best: Option<(usize, &'static str)> = None;
        let mut i = 0;
        while i < self.tensors.len() {
            let candidate = self.tensors[i].name;
            let distance = edit_distance(name, candidate);
            best = match best {
                Some((shortest, _)) if shortest <= distance => best,
                _ => Some((distance, candidate)),
            };
            i += 1;
        }
        match best {
            Some((_, closest)) => Some(closest),
            None => None,
        }
    }

    /// Checks the dtype and shape of a tensor found in the file.
    #[track_caller]
    const fn check_tensor(&self, tensor: &EmbeddedTensor, expected: &[usize]) {
        if !str_eq(tensor.dtype, self.dtype) {
            self.fail(
                Message::new()
                    .push("tensor `")
                    .push(tensor.name)
                    .push("` has dtype ")
                    .push(tensor.dtype)
                    .push(" but the scalar of `")
                    .push_network(self)
                    .push("` is ")
                    .push(self.dtype)
                    .push("; declare the static with the file's scalar type or convert the file"),
            );
        }
        if !shape_eq(tensor.shape, expected) {
            self.fail(
                Message::new()
                    .push("tensor `")
                    .push(tensor.name)
                    .push("` has shape ")
                    .push_shape(tensor.shape)
                    .push(" but `")
                    .push_network(self)
                    .push("` expects ")
                    .push_shape(expected),
            );
        }
    }

    /// Checks that every tensor of the file is one of the network's `parameters`.
    ///
    /// # Panics
    /// At compile time, naming the first tensor of the file that the network lacks.
    #[track_caller]
    pub const fn check_no_extra(&self, parameters: &[TensorInfo]) {
        let mut i = 0;
        while i < self.tensors.len() {
            let tensor = &self.tensors[i];
            let mut j = 0;
            while j < parameters.len() && !str_eq(parameters[j].name, tensor.name) {
                j += 1;
            }
            if j == parameters.len() {
                self.fail(
                    Message::new()
                        .push("unexpected tensor `")
                        .push(tensor.name)
                        .push("` (shape ")
                        .push_shape(tensor.shape)
                        .push("): `")
                        .push_network(self)
                        .push(
                            "` has no parameter of that name; embed a file saved from this network",
                        ),
                );
            }
            i += 1;
        }
    }

    /// Panics (at compile time: a compile error) with ``weights file `file`: `` and `message`.
    #[track_caller]
    const fn fail(&self, message: Message) -> ! {
        let message = Message::new()
            .push("weights file `")
            .push(self.file)
            .push("`: ")
            .push(message.as_str());
        panic!("{}", message.as_str())
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// The layer from the tensors `weight` (`[OUT, IN]`) and `bias` (`[OUT]`) of `source`;
    /// panics at compile time if either is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, weight: &str, bias: &str) -> Self {
        Self {
            weight: source.matrix::<T, OUT, IN>(weight, &[OUT, IN]),
            bias: source.vector::<T, OUT>(bias),
        }
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Linear<T, IN, OUT> {
    /// The map from the tensor `weight` (`[OUT, IN]`) of `source`; panics at compile time if
    /// it is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, weight: &str) -> Self {
        Self {
            weight: source.matrix::<T, OUT, IN>(weight, &[OUT, IN]),
        }
    }
}

impl<T: Real, const N: usize> LayerNorm<T, N> {
    /// The layer norm from the tensors `weight` (gain, `[N]`) and `bias` (shift, `[N]`) of
    /// `source`; panics at compile time if either is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(source: &EmbedSource, weight: &str, bias: &str) -> Self {
        Self {
            weight: source.vector::<T, N>(weight),
            bias: source.vector::<T, N>(bias),
        }
    }
}

impl<T: Real, const N: usize> crate::mode::BatchNorm<T, N> {
    /// The batch norm from the tensors `weight`, `bias`, `running_mean` and `running_var`
    /// (each `[N]`) of `source`; panics at compile time if one is missing or misshapen.
    #[doc(hidden)]
    #[track_caller]
    pub const fn embedded(
        source: &EmbedSource,
        weight: &str,
        bias: &str,
        running_mean: &str,
        running_var: &str,
    ) -> Self {
        Self {
            weight: source.vector::<T, N>(weight),
            bias: source.vector::<T, N>(bias),
            running_mean: source.vector::<T, N>(running_mean),
            running_var: source.vector::<T, N>(running_var),
        }
    }
}

/// Reverses the bytes of each `width`-byte scalar of `bytes`: little-endian data to the
/// target's order on a big-endian target.
const fn swap_scalar_bytes(bytes: &mut [u8], width: usize) {
    let mut start = 0;
    while start + width <= bytes.len() {
        let (mut low, mut high) = (start, start + width - 1);
        while low < high {
            let byte = bytes[low];
            bytes[low] = bytes[high];
            bytes[high] = byte;
            low += 1;
            high -= 1;
        }
        start += width;
    }
}

/// The edit (Levenshtein) distance between `a` and `b`: the fewest one-byte insertions,
/// deletions and substitutions that turn one into the other, in a `const fn`, for naming the
/// closest tensor when one is missing (here at compile time, in `io` at run time).
///
/// Names longer than [`EDIT_DISTANCE_MAX_LEN`] bytes are not typos of a parameter name: for
/// them the distance is the longer length (an upper bound), which keeps the cost below
/// `EDIT_DISTANCE_MAX_LEN²` steps per pair whatever a file holds.
pub(crate) const fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > EDIT_DISTANCE_MAX_LEN || b.len() > EDIT_DISTANCE_MAX_LEN {
        return if a.len() > b.len() { a.len() } else { b.len() };
    }
    // `row[j]`: the distance from the first `i` bytes of `a` to the first `j` of `b`.
    let mut row = [0usize; EDIT_DISTANCE_MAX_LEN + 1];
    let mut j = 0;
    while j <= b.len() {
        row[j] = j;
        j += 1;
    }
    let mut i = 0;
    while i < a.len() {
        // `diagonal`: row `i`, column `j` (before it is overwritten with row `i + 1`).
        let mut diagonal = row[0];
        row[0] = i + 1;
        let mut j = 0;
        while j < b.len() {
            let substitute = diagonal + (a[i] != b[j]) as usize;
            let delete = row[j + 1] + 1;
            let insert = row[j] + 1;
            diagonal = row[j + 1];
            let shortest = if substitute < delete {
                substitute
            } else {
                delete
            };
            row[j + 1] = if insert < shortest { insert } else { shortest };
            j += 1;
        }
        i += 1;
    }
    row[b.len()]
}

/// The longest names [`edit_distance`] compares byte by byte.
const EDIT_DISTANCE_MAX_LEN: usize = 256;

/// `a == b` for strings, in a `const fn` (`PartialEq` is not const).
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `a == b` for shapes, in a `const fn`.
const fn shape_eq(a: &[usize], b: &[usize]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A compile-time error message, built in a fixed buffer (a `const fn` cannot allocate or
/// format). Text past the capacity is cut at a character boundary.
struct Message {
    bytes: [u8; Message::CAPACITY],
    len: usize,
}

impl Message {
    /// Room for a long path and two shapes.
    const CAPACITY: usize = 1024;

    const fn new() -> Self {
        Self {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    /// Appends `text`, as much of it as fits.
    const fn push(mut self, text: &str) -> Self {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() && self.len < Self::CAPACITY {
            self.bytes[self.len] = text[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// Appends `value` in decimal.
    const fn push_usize(mut self, mut value: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (value % 10) as u8;
            count += 1;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        while count > 0 && self.len < Self::CAPACITY {
            count -= 1;
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// Appends a shape as `[128, 64]`.
    const fn push_shape(mut self, shape: &[usize]) -> Self {
        self = self.push("[");
        let mut i = 0;
        while i < shape.len() {
            if i > 0 {
                self = self.push(", ");
            }
            self = self.push_usize(shape[i]);
            i += 1;
        }
        self.push("]")
    }

    /// Appends the network as its type is written: `Digits<f32>`.
    const fn push_network(self, source: &EmbedSource) -> Self {
        let scalar = if str_eq(source.dtype, "F64") {
            "f64"
        } else {
            "f32"
        };
        self.push(source.network).push("<").push(scalar).push(">")
    }

    /// The text so far (up to the last whole character, if it was cut).
    const fn as_str(&self) -> &str {
        let (bytes, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let (valid, _) = bytes.split_at(error.valid_up_to());
                match core::str::from_utf8(valid) {
                    Ok(text) => text,
                    Err(_) => "",
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use alloc::{format, vec};

    /// `values` as little-endian `f32` bytes, leaked (tests only) to get a `'static` slice.
    fn le_bytes(values: &[f32]) -> &'static [u8] {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Vec::leak(bytes)
    }

    fn source(tensors: Vec<EmbeddedTensor>) -> EmbedSource {
        EmbedSource::new::<f32>("net.safetensors", "Net", Vec::leak(tensors))
    }

    #[test]
    fn builds_every_block_column_major() {
        // Column-major: the [3, 2] weight's columns are (1, 2, 3) and (4, 5, 6).
        let source = source(vec![
            tensor("h1.weight", &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            tensor("h1.bias", &[3], &[-0.0, f32::MIN_POSITIVE / 2.0, f32::MAX]),
            tensor("norm.weight", &[3], &[0.5, 0.25, 2.0]),
            tensor("norm.bias", &[3], &[-1.0, 0.0, f32::NAN]),
        ]);
        let dense = Dense::<f32, 2, 3>::embedded(&source, "h1.weight", "h1.bias");
        assert_eq!(dense.weight[(0, 1)], 4.0);
        assert_eq!(dense.weight[(2, 0)], 3.0);
        assert_eq!(dense.bias[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(dense.bias[1], f32::MIN_POSITIVE / 2.0);
        let linear = Linear::<f32, 2, 3>::embedded(&source, "h1.weight");
        assert_eq!(linear.weight, dense.weight);
        let norm = LayerNorm::<f32, 3>::embedded(&source, "norm.weight", "norm.bias");
        assert_eq!(norm.weight.as_slice(), [0.5, 0.25, 2.0]);
        assert_eq!(norm.bias[2].to_bits(), f32::NAN.to_bits());
    }

    #[test]
    #[should_panic(
        expected = "weights file `net.safetensors`: tensor `h1.weight` has shape [3, 2] but \
                    `Net<f32>` expects [2, 3]"
    )]
    fn a_transposed_weight_is_a_shape_mismatch() {
        let source = source(vec![tensor("h1.weight", &[3, 2], &[0.0; 6])]);
        Linear::<f32, 3, 2>::embedded(&source, "h1.weight");
    }

    #[test]
    #[should_panic(
        expected = "tensor `h1.weight` has dtype F32 but the scalar of `Net<f64>` is F64"
    )]
    fn the_dtype_must_be_the_scalar() {
        let tensors = Vec::leak(vec![tensor("h1.weight", &[3, 2], &[0.0; 6])]);
        let source = EmbedSource::new::<f64>("net.safetensors", "Net", tensors);
        Linear::<f64, 2, 3>::embedded(&source, "h1.weight");
    }

    #[test]
    #[should_panic(
        expected = "tensor `h1.bias` (shape [3]) is missing from the file, but `Net<f32>` needs it"
    )]
    fn a_missing_tensor_is_named() {
        let source = source(vec![tensor("h1.weight", &[3, 2], &[0.0; 6])]);
        Dense::<f32, 2, 3>::embedded(&source, "h1.weight", "h1.bias");
    }

    #[test]
    #[should_panic(
        expected = "tensor `h1.bias` (shape [3]) is missing from the file, but \
                    `Net<f32>` needs it; the closest name in the file is `h1.biases`; embed a \
                    file saved from this network"
    )]
    fn a_missing_tensor_names_the_closest_in_the_file() {
        let source = source(vec![
            tensor("h1.weight", &[3, 2], &[0.0; 6]),
            tensor("out.bias", &[1], &[0.0]),
            tensor("h1.biases", &[3], &[0.0; 3]),
        ]);
        Dense::<f32, 2, 3>::embedded(&source, "h1.weight", "h1.bias");
    }

    #[test]
    #[should_panic(
        expected = "unexpected tensor `h2.weight` (shape [1, 3]): `Net<f32>` has no parameter"
    )]
    fn an_extra_tensor_is_named() {
        let source = source(vec![
            tensor("h1.weight", &[3, 2], &[0.0; 6]),
            tensor("h2.weight", &[1, 3], &[0.0; 3]),
        ]);
        let info = |name| TensorInfo {
            name,
            layer: "h1",
            shape: &[3, 2],
            role: crate::TensorRole::Weight,
            activation: crate::ActivationKind::Identity,
        };
        source.check_no_extra(&[info("h1.weight"), info("h1.bias")]);
        source.check_no_extra(&[info("h1.weight")]);
    }

    fn tensor(name: &'static str, shape: &'static [usize], values: &[f32]) -> EmbeddedTensor {
        EmbeddedTensor {
            name,
            dtype: "F32",
            shape,
            bytes: le_bytes(values),
        }
    }

    #[test]
    fn edit_distance_counts_single_byte_edits() {
        assert_eq!(edit_distance("h1.bias", "h1.bias"), 0);
        assert_eq!(edit_distance("h1.bias", "h1.biases"), 2);
        assert_eq!(edit_distance("h1.biases", "h1.bias"), 2);
        assert_eq!(edit_distance("h1.bias", "out.bias"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        let long = "x".repeat(EDIT_DISTANCE_MAX_LEN + 1);
        assert_eq!(edit_distance(&long, "x"), EDIT_DISTANCE_MAX_LEN + 1);
        let longest = "x".repeat(EDIT_DISTANCE_MAX_LEN);
        assert_eq!(edit_distance(&longest, "y"), EDIT_DISTANCE_MAX_LEN);
    }

    #[test]
    fn swaps_each_scalar() {
        let mut bytes = [1, 2, 3, 4, 5, 6, 7, 8];
        swap_scalar_bytes(&mut bytes, 4);
        assert_eq!(bytes, [4, 3, 2, 1, 8, 7, 6, 5]);
        swap_scalar_bytes(&mut bytes, 8);
        assert_eq!(bytes, [5, 6, 7, 8, 1, 2, 3, 4]);
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let mut message = Message::new();
        for _ in 0..Message::CAPACITY {
            message = message.push("é");
        }
        assert_eq!(message.as_str().len(), Message::CAPACITY);
        let message = Message::new().push("x").push("é".repeat(600).as_str());
        assert_eq!(message.as_str(), format!("x{}", "é".repeat(511)));
        assert_eq!(
            Message::new()
                .push_shape(&[128, 0, 7])
                .push_usize(0)
                .as_str(),
            "[128, 0, 7]0"
        );
    }
}
