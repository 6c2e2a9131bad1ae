//! The refusals and the window attributes, on layer lists no generated network has here: a
//! sequence network implements `SequenceNetwork`, not `Network`, so `to_bytes` never sees one;
//! the refusal is checked on `Graph::layer` directly.

use std::string::ToString;
use std::vec::Vec;

use super::maps::{Value, WindowAttributes};
use super::{Graph, OnnxError};
use crate::conv::Window;
use crate::layer::Zeroable;
use crate::recurrent::{CellKind, Reduction};
use crate::{ActivationKind, LayerInfo, LayerKind, Parameters, TensorInfo};

/// A stand-in with no tensors, whose layers the tests hand to `Graph::layer` one by one.
struct NoTensors;

// SAFETY: a unit struct.
unsafe impl Zeroable for NoTensors {}

impl Parameters<f32> for NoTensors {
    const PARAM_COUNT: usize = 0;
    const TENSORS: &'static [TensorInfo] = &[];
    const ARCHITECTURE: &'static str = "test NoTensors";
    const LAYERS: &'static [LayerInfo] = &[];

    fn tensor(&self, index: usize) -> &[f32] {
        panic!("tensor index {index} out of range")
    }

    fn tensor_mut(&mut self, index: usize) -> &mut [f32] {
        panic!("tensor index {index} out of range")
    }
}

fn refusal(name: &'static str, kind: LayerKind) -> String {
    let mut graph = Graph {
        nodes: Vec::new(),
        initializers: Vec::new(),
        outputs: Vec::new(),
        input: Value::new(super::INPUT, vec![4]),
    };
    let layer = LayerInfo {
        name,
        kind,
        input_width: 4,
        width: 4,
        activation: ActivationKind::Tanh,
        residual: None,
    };
    let input = graph.input.clone();
    match graph.layer::<f32, NoTensors>(&layer, &input) {
        Err(error @ OnnxError::Unsupported { .. }) => error.to_string(),
        other => panic!("{name}: not refused: {other:?}"),
    }
}

#[test]
fn sequence_layers_are_refused_by_name() {
    let causal = LayerKind::CausalConv {
        out_channels: 4,
        kernel: 3,
        dilation: 2,
        bias: true,
    };
    let tail = "export a network over vectors or feature maps (dense, convolution, pooling \
                and normalization layers)";
    assert_eq!(
        refusal("c1", causal),
        format!(
            "layer `c1`: ONNX export does not support causal convolutions over a sequence yet; \
             {tail}"
        )
    );
    let gru = LayerKind::Recurrent {
        cell: CellKind::Gru,
    };
    assert_eq!(
        refusal("r1", gru),
        format!("layer `r1`: ONNX export does not support recurrent layers yet; {tail}")
    );
    let last = LayerKind::Reduce {
        reduction: Reduction::Last,
    };
    assert_eq!(
        refusal("last", last),
        format!(
            "layer `last`: ONNX export does not support reductions of a sequence over time \
             yet; {tail}"
        )
    );
}

fn window(input: usize, kernel: usize, stride: usize, padding: usize, output: usize) -> Window {
    Window {
        channels: 2,
        input: [1, input],
        kernel: [1, kernel],
        stride: [1, stride],
        padding: [0, padding],
        dilation: [1, 1],
        output: [1, output],
    }
}

#[test]
fn padding_after_is_what_gives_nn_s_output_size() {
    // PyTorch's `same` with kernel 4 on 16: 1 before, 2 after.
    let same = WindowAttributes::new(&window(16, 4, 1, 1, 16), 1);
    assert_eq!(same.pads, [1, 2]);
    assert_eq!((same.kernel_shape, same.strides), (vec![4], vec![1]));
    // Symmetric padding: 1 and 1 (kernel 3, stride 2 on 9: output 5).
    assert_eq!(
        WindowAttributes::new(&window(9, 3, 2, 1, 5), 1).pads,
        [1, 1]
    );
    // Inputs no window reaches (kernel 1, stride 3 on 5: output 2 reads 0 and 3): no negative
    // padding, ONNX's floor skips them as nn does.
    assert_eq!(
        WindowAttributes::new(&window(5, 1, 3, 0, 2), 1).pads,
        [0, 0]
    );
    // 2-D: both axes, begin then end.
    let mut image = window(8, 2, 1, 0, 8);
    image.input[0] = 6;
    image.kernel[0] = 3;
    image.padding[0] = 1;
    image.output[0] = 6;
    assert_eq!(WindowAttributes::new(&image, 2).pads, [1, 0, 1, 1]);
}
