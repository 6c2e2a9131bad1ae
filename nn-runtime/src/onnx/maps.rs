//! Feature maps in the exported graph: the shape of each value, the `Reshape`s and `Flatten`s
//! between nn's flat samples and ONNX's `[batch, C, H, W]` / `[batch, C, L]` tensors, and the
//! attributes of `Conv`, `MaxPool` and `AveragePool`.
//!
//! nn passes every sample as one flat vector (a feature map in C×H×W order, as PyTorch's
//! contiguous layout); ONNX's convolutions and pools need the channels and positions as axes.
//! Each value of the graph records the shape of one sample: `[width]` for a vector, `[C, H, W]`
//! or `[C, L]` for a feature map; a layer that needs another shape of the same scalars gets it
//! through a `Reshape` (or a `Flatten`, `axis = 1`, to a vector: the same C×H×W order).

use std::string::{String, ToString};
use std::vec::Vec;

use super::proto::{AttributeProto, TensorProto};
use super::{Graph, dim, int, ints};
use crate::conv::{Spatial, Window};
use crate::{LayerInfo, LayerKind, Parameters, Real};

/// A value of the graph: its name and the shape of one sample (the batch axis comes first in
/// the graph, not here).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Value {
    pub name: String,
    /// `[width]`, `[C, L]` or `[C, H, W]`.
    pub shape: Vec<usize>,
}

impl Value {
    pub fn new(name: impl Into<String>, shape: Vec<usize>) -> Self {
        Self {
            name: name.into(),
            shape,
        }
    }

    /// Scalars of one sample.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the value is a feature map (channels first), not a vector.
    pub fn is_map(&self) -> bool {
        self.shape.len() > 1
    }
}

/// The shape of the network's input sample, as the first layers read it: the feature map a
/// convolution or pool (after any batch norms and dropouts) takes, `[C, IN / C]` for a map
/// that a channel batch norm or `global_avg_pool` reads but no window describes, else
/// `[IN]`. `LAYERS` records no input shape; these layers are the ones that read it as a map.
pub(super) fn input_shape<T: Real, N: Parameters<T>>(width: usize) -> Vec<usize> {
    let mut channels = None;
    for layer in N::LAYERS {
        match layer.kind {
            LayerKind::Dropout { .. } => {}
            LayerKind::BatchNorm { .. } => {
                let gain = format!("{}.weight", layer.name);
                let info = N::TENSORS.iter().find(|info| info.name == gain);
                match info.map(|info| info.len()) {
                    Some(c) if c != layer.width && c > 0 && layer.width.is_multiple_of(c) => {
                        channels = Some(c);
                    }
                    _ => break,
                }
            }
            LayerKind::Spatial(Spatial::Conv { dims, window, .. }) => {
                return map_shape(window.channels, window.input, dims);
            }
            LayerKind::Spatial(Spatial::MaxPool(window) | Spatial::AvgPool(window)) => {
                return map_shape(window.channels, window.input, pool_dims(&window, None));
            }
            LayerKind::Spatial(Spatial::GlobalAvgPool { channels: c }) => {
                channels = Some(c);
                break;
            }
            _ => break,
        }
    }
    match channels {
        Some(c) if c > 0 && width.is_multiple_of(c) && c != width => vec![c, width / c],
        _ => vec![width],
    }
}

/// `[C, H, W]` in 2-D, `[C, L]` in 1-D (where the window's height is 1).
pub(super) fn map_shape(channels: usize, size: [usize; 2], dims: usize) -> Vec<usize> {
    match dims {
        1 => vec![channels, size[1]],
        _ => vec![channels, size[0], size[1]],
    }
}

/// The dimensions a pool runs in: those of its input when that is a map of the window's
/// channels and size, else 1-D when the window has height 1 (a 1-D signal's window; on an
/// image of height 1 the two compute the same).
pub(super) fn pool_dims(window: &Window, input: Option<&Value>) -> usize {
    let height_one = window.input[0] == 1 && window.kernel[0] == 1;
    match input.map(|value| value.shape.as_slice()) {
        Some(&[c, l]) if c == window.channels && height_one && l == window.input[1] => 1,
        Some(&[c, h, w]) if c == window.channels && [h, w] == window.input => 2,
        _ if height_one => 1,
        _ => 2,
    }
}

/// The attributes of a window in `dims` dimensions: `kernel_shape`, `strides`, `pads` (begin
/// then end per axis), `dilations`. Padding before each axis is `window.padding`; after, what
/// makes ONNX's output size nn's, `(output − 1)·stride + dilation·(kernel − 1) + 1 − input −
/// before` (one more than before for PyTorch's `same` with an even kernel), or 0 where that is
/// negative (the last inputs no window reaches, which ONNX's floor skips as nn's does).
pub(super) struct WindowAttributes {
    pub kernel_shape: Vec<i64>,
    pub strides: Vec<i64>,
    pub pads: Vec<i64>,
    pub dilations: Vec<i64>,
}

impl WindowAttributes {
    pub fn new(window: &Window, dims: usize) -> Self {
        let axes = if dims == 1 { 1..2 } else { 0..2 };
        let each = |f: &dyn Fn(usize) -> usize| axes.clone().map(|a| dim(f(a))).collect();
        let end = |a: usize| {
            let reach = (window.output[a].saturating_sub(1)) * window.stride[a]
                + window.dilation[a] * window.kernel[a].saturating_sub(1)
                + 1;
            reach.saturating_sub(window.input[a] + window.padding[a])
        };
        let mut pads: Vec<i64> = each(&|a| window.padding[a]);
        pads.extend(axes.clone().map(|a| dim(end(a))));
        Self {
            kernel_shape: each(&|a| window.kernel[a]),
            strides: each(&|a| window.stride[a]),
            pads,
            dilations: each(&|a| window.dilation[a]),
        }
    }

    /// Whether any axis is padded.
    pub fn padded(&self) -> bool {
        self.pads.iter().any(|&p| p != 0)
    }

    /// Whether any axis is dilated.
    pub fn dilated(&self) -> bool {
        self.dilations.iter().any(|&d| d != 1)
    }

    /// `Conv`'s attributes: every one written, `group = 1`.
    pub fn conv(self) -> Vec<AttributeProto> {
        vec![
            ints("dilations", self.dilations),
            int("group", 1),
            ints("kernel_shape", self.kernel_shape),
            ints("pads", self.pads),
            ints("strides", self.strides),
        ]
    }

    /// `MaxPool`'s or `AveragePool`'s: `ceil_mode = 0`, the kernel and strides, pads and
    /// dilations where not the defaults; `AveragePool` with padding counts the padded zeros
    /// (`count_include_pad = 1`), as nn divides every window's sum by the kernel's size.
    pub fn pool(self, average: bool) -> Vec<AttributeProto> {
        let (padded, dilated) = (self.padded(), self.dilated());
        let mut attributes = vec![int("ceil_mode", 0)];
        if average && padded {
            attributes.push(int("count_include_pad", 1));
        }
        if dilated {
            attributes.push(ints("dilations", self.dilations));
        }
        attributes.push(ints("kernel_shape", self.kernel_shape));
        if padded {
            attributes.push(ints("pads", self.pads));
        }
        attributes.push(ints("strides", self.strides));
        attributes
    }
}

impl Graph {
    /// `value` with the sample shape `shape` (the same scalars): itself, `Flatten(value)`
    /// (`axis = 1`) to a vector, or `Reshape(value, [0, shape…])` to a map (`0` copies the
    /// batch). Each conversion is written once; later calls reuse it.
    pub(super) fn reshaped(&mut self, value: &Value, shape: &[usize]) -> Value {
        if value.shape == shape {
            return value.clone();
        }
        let shown: Vec<String> = shape.iter().map(ToString::to_string).collect();
        let name = match shape.len() {
            1 => format!("{}.flat", value.name),
            _ => format!("{}.{}", value.name, shown.join("x")),
        };
        let reshaped = Value::new(name.clone(), shape.to_vec());
        if self.nodes.iter().any(|node| node.output.contains(&name)) {
            return reshaped;
        }
        if shape.len() == 1 {
            self.node("Flatten", &[&value.name], &name, vec![int("axis", 1)]);
        } else {
            let target = format!("{name}.shape");
            let mut dims = vec![0];
            dims.extend(shape.iter().map(|&d| dim(d)));
            self.initializers.push(shape_tensor(&target, &dims));
            self.node("Reshape", &[&value.name, &target], &name, Vec::new());
        }
        reshaped
    }

    /// The nodes of a convolution or pool reading `input`; returns `z` with its sample shape.
    pub(super) fn spatial<T: Real, N: Parameters<T>>(
        &mut self,
        layer: &LayerInfo,
        spatial: Spatial,
        input: &Value,
    ) -> Result<Value, super::OnnxError> {
        let name = layer.name;
        let z = format!("{name}.z");
        Ok(match spatial {
            Spatial::Conv {
                dims,
                out_channels,
                window,
                bias,
            } => {
                let x = self.reshaped(input, &map_shape(window.channels, window.input, dims));
                let inputs = super::affine_inputs::<T, N>(layer, &x.name, bias)?;
                let attributes = WindowAttributes::new(&window, dims).conv();
                self.node("Conv", &inputs, &z, attributes);
                Value::new(z, map_shape(out_channels, window.output, dims))
            }
            Spatial::MaxPool(window) | Spatial::AvgPool(window) => {
                let average = matches!(spatial, Spatial::AvgPool(_));
                let dims = pool_dims(&window, Some(input));
                let x = self.reshaped(input, &map_shape(window.channels, window.input, dims));
                let op_type = if average { "AveragePool" } else { "MaxPool" };
                let attributes = WindowAttributes::new(&window, dims).pool(average);
                self.node(op_type, &[&x.name], &z, attributes);
                Value::new(z, map_shape(window.channels, window.output, dims))
            }
            Spatial::GlobalAvgPool { channels } => {
                // Any map of these channels: `GlobalAveragePool` averages every axis after the
                // channels; nn's output is the vector of channel means.
                let x = match input.shape.first() {
                    Some(&c) if c == channels && input.is_map() => input.clone(),
                    _ => {
                        let positions = input.len() / channels.max(1);
                        self.reshaped(input, &[channels, positions])
                    }
                };
                let pooled = format!("{name}.pool");
                self.node("GlobalAveragePool", &[&x.name], &pooled, Vec::new());
                self.node("Flatten", &[&pooled], &z, vec![int("axis", 1)]);
                Value::new(z, vec![channels])
            }
        })
    }
}

/// An `INT64` initializer `[dims.len()]`: a `Reshape`'s target shape.
fn shape_tensor(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto {
        dims: vec![dim(dims.len())],
        data_type: super::proto::INT64,
        name: name.to_string(),
        raw_data: dims.iter().flat_map(|d| d.to_le_bytes()).collect(),
    }
}
