// The sample `nn-bare` predicts and the class it must find, shared with the hosted test
// `tests/embed.rs` (`include!`d by both), which checks the class with the model loaded by
// `io::load` from the same file.

/// One input of `Mixed`.
const SAMPLE: [f32; 5] = [0.25, -0.5, 0.75, 0.1, -0.3];

/// The class `Mixed` (from `tests/fixtures/embed/mixed-f32.safetensors`) predicts for `SAMPLE`.
const EXPECTED_CLASS: usize = 0;
