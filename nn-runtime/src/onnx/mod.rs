//! Export of a network to ONNX: a standard `.onnx` file that ONNX Runtime, `onnx.checker`
//! and other ONNX tools load, computing what [`Network::forward`] and [`Network::predict`]
//! compute.
//!
//! The graph (opset 20, IR version 9) has one input and two outputs:
//!
//! - `input`: `[batch, IN]`, one sample per row (`batch` is symbolic);
//! - `output`: `[batch, OUT]`, [`Network::forward`] (the logits, for a cross-entropy loss);
//! - `prediction`: `[batch, OUT]`, [`Network::predict`]: `Softmax(output)` for
//!   `softmax_cross_entropy`, `Sigmoid(output)` for `binary_cross_entropy`, `output` itself
//!   (an `Identity`) for `mse`.
//!
//! Each layer becomes standard operators, with the network's tensors as initializers under
//! their PyTorch names and layouts (`h1.weight` `[out, in]`, row-major), in the network's
//! scalar (`FLOAT` for `f32`, `DOUBLE` for `f64`):
//!
//! | declaration | operators |
//! | --- | --- |
//! | `dense(n)` | `Gemm(x, W, b)` with `transB = 1`; without bias `Gemm(x, W)`; after a feature map `Flatten(x)` (`axis = 1`) first |
//! | `layer_norm(eps = e)` | `LayerNormalization(x, γ, β)`, `axis = -1`, `epsilon = e`, `stash_type` the scalar's type |
//! | `dropout(p)` | `Identity` (inference) |
//! | `batch_norm(eps = e, momentum = m)` | `BatchNormalization(x, γ, β, μ, σ²)` with the running statistics, `epsilon = e`, `momentum = 1 − m`; per feature of `[batch, n]` or per channel of `[batch, C, …]` |
//! | `conv2d(..)`, `conv1d(..)` | `Conv(x, W, b)`: `kernel_shape`, `strides`, `pads`, `dilations`, `group = 1`; without bias `Conv(x, W)` |
//! | `max_pool(..)`, `avg_pool(..)` | `MaxPool`, `AveragePool`: `kernel_shape`, `strides`, `ceil_mode = 0` |
//! | `global_avg_pool` | `Flatten(GlobalAveragePool(x))` |
//! | `relu`, `sigmoid`, `tanh`, `softplus`, `softmax` | `Relu`, `Sigmoid`, `Tanh`, `Softplus`, `Softmax` (`axis = -1`; on a feature map over the flattened map, shaped back) |
//! | `leaky_relu(s)` | `LeakyRelu`, `alpha = s` |
//! | `gelu`, `gelu(tanh)` | `Gelu`, `approximate = "none"` / `"tanh"` |
//! | `silu` | `Mul(z, Sigmoid(z))` |
//! | `step` | `Cast(GreaterOrEqual(z, 0))` |
//! | `+ source`, `+ project(source)` | `Add(h, s)`, `Add(h, Gemm(s, P))` with `transB = 1`; between feature maps `Add(h, Conv(s, P))`, `P` the 1×1 convolution `[out, in, 1, 1]` (`[out, in, 1]`) |
//!
//! # Feature maps
//!
//! The input stays `[batch, IN]`, a sample per row in nn's C×H×W order. When the first layers
//! read a feature map (a convolution, a pool, a channel batch norm), a `Reshape` with the
//! target `[0, C, H, W]` (`[0, C, L]` in 1-D; `0` copies the batch) makes it
//! `[batch, C, H, W]`; convolutions and pools then run on 4-D (3-D) tensors, and a dense layer
//! after them reads `Flatten(x)` (`axis = 1`): C×H×W, as `torch.flatten` and as nn. A
//! convolution's padding before each axis is its declared padding; after, what gives nn's
//! output size (one more than before for PyTorch's `same` with an even kernel). A network
//! ending on a feature map outputs it flattened. Pools are never padded.
//!
//! Sequence layers (recurrent cells, `last`/`mean`, causal convolutions) do not export: a
//! sequence network is no [`Network`], and [`OnnxError::Unsupported`] names such a layer.
//!
//! ONNX Runtime's CPU provider has no `double` kernel for `Conv` or the pools: an `f64`
//! network with feature maps is a valid ONNX model (`onnx.checker` passes, and ONNX's
//! reference evaluator runs it), but ONNX Runtime loads only `f32` ones.
//!
//! ONNX attributes are `f32`: a network in `f64` exports its leaky-ReLU slopes and norm
//! epsilons rounded to `f32` (its weights stay `f64`). The bytes are deterministic: the same
//! network gives the same file.
//!
//! # Examples
//!
//! ```
//! nn_runtime::network! {
//!     struct Xor { input: 2, h: dense(4, tanh), out: dense(1), loss: binary_cross_entropy }
//! }
//! use nn_runtime::Parameters;
//! let net: Xor = Xor::zeros();
//! let bytes = nn_runtime::onnx::to_bytes(&net).unwrap();
//! assert_eq!(&bytes[..2], [0x08, 9]); // field 1 (`ir_version`) = 9
//! ```
//!
//! A convolutional network, its input reshaped to `[batch, 1, 8, 8]`:
//!
//! ```
//! nn_runtime::network! {
//!     struct Small {
//!         input: [1, 8, 8],
//!         c1: conv2d(4, kernel = 3, padding = same, relu),
//!         p1: max_pool(2),
//!         bn: batch_norm,
//!         out: dense(10),
//!         loss: softmax_cross_entropy,
//!     }
//! }
//! use nn_runtime::Parameters;
//! let bytes = nn_runtime::onnx::to_bytes(&Small::<f32>::zeros()).unwrap();
//! let has = |op: &str| bytes.windows(op.len()).any(|w| w == op.as_bytes());
//! assert!(["Reshape", "Conv", "MaxPool", "BatchNormalization", "Flatten", "Gemm"].map(has) == [true; 6]);
//! ```

mod maps;
mod proto;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use prost::Message;

use crate::{
    ActivationKind, LayerInfo, LayerKind, LossKind, Network, Parameters, Real, ResidualSource,
};
use maps::Value;
use proto::{
    AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
    attribute_type,
};

/// The ONNX IR version of the files written: 9 (ONNX 1.14), the first with opset 20.
pub const IR_VERSION: i64 = 9;
/// The operator set the graph uses: 20, the first with `Gelu`.
pub const OPSET: i64 = 20;

/// What went wrong exporting a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The file could not be written.
    #[error("cannot write the ONNX file `{}`: {source}", file.display())]
    Write {
        /// The file asked for.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The network has a layer the export does not write yet (a sequence layer).
    #[error(
        "layer `{layer}`: ONNX export does not support {what} yet; export a network over vectors or feature maps (dense, convolution, pooling and normalization layers)"
    )]
    Unsupported {
        /// The layer.
        layer: String,
        /// What kind of layer it is.
        what: &'static str,
    },
    /// [`Parameters::LAYERS`] and [`Parameters::TENSORS`] disagree (never, for a network
    /// generated by `network!`): a layer needs a tensor the network does not list, or its
    /// residual reads a layer that does not come before it.
    #[error("layer `{layer}`: {problem}; export only networks generated by `network!`")]
    Inconsistent {
        /// The layer.
        layer: String,
        /// What does not fit.
        problem: String,
    },
}

/// Writes `net` as an ONNX model to `path` (see [`to_bytes`]); the file appears whole or not
/// at all (written beside it, then renamed).
///
/// # Errors
/// [`OnnxError::Write`] when the file cannot be written.
pub fn save<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), OnnxError>
where
    T: Real,
    N: Network<T, IN, OUT>,
{
    let path = path.as_ref();
    crate::io::write_atomic(path, &to_bytes(net)?).map_err(|error| match error {
        crate::WeightsError::Write { source, .. } => OnnxError::Write {
            file: path.to_path_buf(),
            source,
        },
        other => OnnxError::Write {
            file: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// `net` as the bytes of an ONNX model (a serialized `ModelProto`): the graph of the module
/// docs, with the network's parameters as initializers.
///
/// # Errors
/// [`OnnxError::Inconsistent`] when the network's layer list does not fit its tensors (never
/// for a network generated by `network!`); [`OnnxError::Unsupported`] for a sequence layer.
pub fn to_bytes<T, N, const IN: usize, const OUT: usize>(net: &N) -> Result<Vec<u8>, OnnxError>
where
    T: Real,
    N: Network<T, IN, OUT>,
{
    let input = Value::new(INPUT, vec![IN]);
    let mut graph = Graph {
        nodes: Vec::new(),
        initializers: initializers(net),
        outputs: Vec::new(),
        input: input.clone(),
    };
    // A network whose first layers read a feature map reads `input` as `[batch, C, H, W]`
    // (`[batch, C, L]`): one `Reshape`, which residuals from the input read too.
    graph.input = graph.reshaped(&input, &maps::input_shape::<T, N>(IN));
    let mut value = graph.input.clone();
    for layer in N::LAYERS {
        value = graph.layer::<T, N>(layer, &value)?;
        graph.outputs.push(value.clone());
    }
    // A network that ends on a feature map outputs it flat, as `forward` does.
    let value = graph.reshaped(&value, &[OUT]);
    graph.node("Identity", &[&value.name], OUTPUT, Vec::new());
    let link = match N::LOSS {
        LossKind::Mse => "Identity",
        LossKind::BinaryCrossEntropy => "Sigmoid",
        LossKind::SoftmaxCrossEntropy => "Softmax",
    };
    graph.node(link, &[OUTPUT], PREDICTION, Vec::new());
    let elem_type = elem_type::<T>();
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "nn".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: N::ARCHITECTURE.to_string(),
        graph: Some(GraphProto {
            node: graph.nodes,
            name: short_type_name::<N>(),
            initializer: graph.initializers,
            doc_string: String::new(),
            input: vec![value_info(INPUT, elem_type, IN)],
            output: vec![
                value_info(OUTPUT, elem_type, OUT),
                value_info(PREDICTION, elem_type, OUT),
            ],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    };
    Ok(model.encode_to_vec())
}

/// The graph's input, a batch of samples as rows.
const INPUT: &str = "input";
/// The graph's first output, `forward`.
const OUTPUT: &str = "output";
/// The graph's second output, `predict`.
const PREDICTION: &str = "prediction";
/// The scalar `0` that `step` compares with (a name without a dot: no tensor has it).
const ZERO: &str = "zero";

/// The nodes and initializers of a graph being built.
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    /// Each layer's output value so far, in order (what residuals read).
    outputs: Vec<Value>,
    /// The network's input as the first layer reads it (a residual from `input` reads it).
    input: Value,
}

impl Graph {
    /// Appends `op_type(inputs) -> output`, the node named after its output.
    fn node(
        &mut self,
        op_type: &str,
        inputs: &[impl AsRef<str>],
        output: &str,
        attribute: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            input: inputs
                .iter()
                .map(|input| input.as_ref().to_string())
                .collect(),
            output: vec![output.to_string()],
            name: output.to_string(),
            op_type: op_type.to_string(),
            attribute,
        });
    }

    /// One layer's nodes, reading the value `input`; returns the layer's output value.
    /// Values are named `<layer>.<step>` (`h1.z`, `h1.relu`, `h1.residual`, `c1.z.flat`),
    /// which no initializer shares (tensor names end in `weight`, `bias`, `running_mean` or
    /// `running_var`, a `Reshape`'s target in `shape`).
    fn layer<T: Real, N: Parameters<T>>(
        &mut self,
        layer: &LayerInfo,
        input: &Value,
    ) -> Result<Value, OnnxError> {
        let name = layer.name;
        let tensor = |suffix: &str| tensor_name::<T, N>(layer, suffix);
        let z = format!("{name}.z");
        let vector = vec![layer.width];
        let z = match layer.kind {
            LayerKind::Dense { bias } => {
                // A dense layer reads a feature map flat, C×H×W (`Flatten`, `axis = 1`).
                let x = self.reshaped(input, &[layer.input_width]);
                let inputs = affine_inputs::<T, N>(layer, &x.name, bias)?;
                self.node("Gemm", &inputs, &z, vec![int("transB", 1)]);
                Value::new(z, vector)
            }
            LayerKind::LayerNorm { eps } => {
                let x = self.reshaped(input, &[layer.input_width]);
                let (gain, shift) = (tensor("weight")?, tensor("bias")?);
                let attributes = vec![
                    int("axis", -1),
                    float("epsilon", eps as f32),
                    int("stash_type", elem_type::<T>().into()),
                ];
                self.node(
                    "LayerNormalization",
                    &[&x.name, &gain, &shift],
                    &z,
                    attributes,
                );
                Value::new(z, vector)
            }
            // Inference mode, as every exported graph: dropout is the identity, batch norm
            // uses its running statistics (ONNX's `BatchNormalization` in inference).
            LayerKind::Dropout { .. } => {
                self.node("Identity", &[&input.name], &z, Vec::new());
                Value::new(z, input.shape.clone())
            }
            LayerKind::BatchNorm { eps, momentum } => {
                let (gain, shift) = (tensor("weight")?, tensor("bias")?);
                // Per feature of a vector `[batch, n]`, or per channel of a feature map
                // `[batch, C, …]`: ONNX's axis 1 either way.
                let channels = N::TENSORS
                    .iter()
                    .find(|info| info.name == gain)
                    .map_or(0, |info| info.len());
                let x = match input.shape.first() {
                    Some(&c) if c == channels => input.clone(),
                    _ if channels > 0 && input.len().is_multiple_of(channels) => {
                        self.reshaped(input, &[channels, input.len() / channels])
                    }
                    _ => {
                        return Err(inconsistent(
                            layer,
                            format!(
                                "its {channels} channels do not divide its input of {}",
                                input.len()
                            ),
                        ));
                    }
                };
                let (mean, var) = (tensor("running_mean")?, tensor("running_var")?);
                let attributes = vec![
                    float("epsilon", eps as f32),
                    float("momentum", (1.0 - momentum) as f32),
                ];
                self.node(
                    "BatchNormalization",
                    &[&x.name, &gain, &shift, &mean, &var],
                    &z,
                    attributes,
                );
                Value::new(z, x.shape)
            }
            LayerKind::Spatial(spatial) => self.spatial::<T, N>(layer, spatial, input)?,
            LayerKind::Recurrent { .. } => return Err(unsupported(layer, "recurrent layers")),
            LayerKind::Reduce { .. } => {
                return Err(unsupported(layer, "reductions of a sequence over time"));
            }
            LayerKind::CausalConv { .. } => {
                return Err(unsupported(layer, "causal convolutions over a sequence"));
            }
        };
        let mut output = self.activation::<T>(layer, z);
        if let Some(residual) = layer.residual {
            let mut source = match residual.source {
                ResidualSource::Input => self.input.clone(),
                ResidualSource::Layer(index) => match self.outputs.get(index) {
                    Some(output) => output.clone(),
                    None => {
                        return Err(inconsistent(
                            layer,
                            format!(
                                "its residual reads layer {index}, which does not come before it"
                            ),
                        ));
                    }
                },
            };
            if residual.project {
                source = self.projection::<T, N>(layer, &source, &output.shape)?;
            }
            // Without a projection the shapes match (`network!` checks it), up to a flat
            // input read by a layer whose output is the input's map, or the other way round.
            let source = self.reshaped(&source, &output.shape);
            let sum = format!("{name}.residual");
            self.node("Add", &[&output.name, &source.name], &sum, Vec::new());
            output = Value::new(sum, output.shape);
        }
        Ok(output)
    }

    /// A residual's projection of `source` to `shape`: into a vector `Gemm(flat s, P)` with
    /// `transB = 1`, into a feature map the 1×1 convolution `Conv(s, P)` (`P` is
    /// `[out, in, 1, 1]`, or `[out, in, 1]` in 1-D).
    fn projection<T: Real, N: Parameters<T>>(
        &mut self,
        layer: &LayerInfo,
        source: &Value,
        shape: &[usize],
    ) -> Result<Value, OnnxError> {
        let projection = tensor_name::<T, N>(layer, "proj.weight")?;
        let projected = format!("{}.proj", layer.name);
        if shape.len() == 1 {
            let source = self.reshaped(source, &[source.len()]);
            let attributes = vec![int("transB", 1)];
            self.node("Gemm", &[&source.name, &projection], &projected, attributes);
            return Ok(Value::new(projected, shape.to_vec()));
        }
        // The source's channels are the projection's `in`; its positions are the output's.
        let info = N::TENSORS.iter().find(|info| info.name == projection);
        let channels = info
            .and_then(|info| info.shape.get(1))
            .copied()
            .unwrap_or(0);
        let mut source_shape = vec![channels];
        source_shape.extend_from_slice(&shape[1..]);
        if source_shape.iter().product::<usize>() != source.len() {
            return Err(inconsistent(
                layer,
                format!(
                    "its projection `{projection}` does not fit its source's {} scalars",
                    source.len()
                ),
            ));
        }
        let source = self.reshaped(source, &source_shape);
        let ones = vec![1; shape.len() - 1];
        let attributes = vec![ints("kernel_shape", ones)];
        self.node("Conv", &[&source.name, &projection], &projected, attributes);
        Ok(Value::new(projected, shape.to_vec()))
    }

    /// The activation's nodes on `z`; returns the activated value (`z` for identity).
    fn activation<T: Real>(&mut self, layer: &LayerInfo, z: Value) -> Value {
        let name = layer.name;
        let shape = z.shape.clone();
        let (op_type, attributes) = match layer.activation {
            ActivationKind::Identity => return z,
            // nn's softmax on a feature map runs over all its scalars (the sample's vector):
            // ONNX's `Softmax` runs over one axis, so over the flattened map, shaped back.
            ActivationKind::Softmax if z.is_map() => {
                let flat = self.reshaped(&z, &[z.len()]);
                let softmax = format!("{name}.softmax");
                self.node("Softmax", &[&flat.name], &softmax, vec![int("axis", -1)]);
                let flat = Value::new(softmax, flat.shape);
                return self.reshaped(&flat, &shape);
            }
            ActivationKind::Relu => ("Relu", Vec::new()),
            ActivationKind::Sigmoid => ("Sigmoid", Vec::new()),
            ActivationKind::Tanh => ("Tanh", Vec::new()),
            ActivationKind::Softplus => ("Softplus", Vec::new()),
            ActivationKind::Softmax => ("Softmax", vec![int("axis", -1)]),
            ActivationKind::LeakyRelu { slope } => {
                ("LeakyRelu", vec![float("alpha", slope as f32)])
            }
            ActivationKind::Gelu => ("Gelu", vec![string("approximate", "none")]),
            ActivationKind::GeluTanh => ("Gelu", vec![string("approximate", "tanh")]),
            ActivationKind::Silu => {
                let sigmoid = format!("{name}.sigmoid");
                self.node("Sigmoid", &[&z.name], &sigmoid, Vec::new());
                let silu = format!("{name}.silu");
                self.node("Mul", &[&z.name, &sigmoid], &silu, Vec::new());
                return Value::new(silu, shape);
            }
            ActivationKind::Step => {
                self.zero::<T>();
                let positive = format!("{name}.nonnegative");
                self.node("GreaterOrEqual", &[&z.name, ZERO], &positive, Vec::new());
                let step = format!("{name}.step");
                let to = int("to", elem_type::<T>().into());
                self.node("Cast", &[&positive], &step, vec![to]);
                return Value::new(step, shape);
            }
        };
        let activated = format!("{name}.{}", op_type.to_lowercase());
        self.node(op_type, &[&z.name], &activated, attributes);
        Value::new(activated, shape)
    }

    /// Adds the scalar initializer [`ZERO`], once.
    fn zero<T: Real>(&mut self) {
        if self.initializers.iter().any(|tensor| tensor.name == ZERO) {
            return;
        }
        let mut raw_data = Vec::new();
        T::extend_le_bytes(&[T::zero()], &mut raw_data);
        self.initializers.push(TensorProto {
            dims: Vec::new(),
            data_type: elem_type::<T>(),
            name: ZERO.to_string(),
            raw_data,
        });
    }
}

/// Every tensor of `net` as an initializer: its PyTorch name, shape and row-major layout.
fn initializers<T: Real, N: Parameters<T>>(net: &N) -> Vec<TensorProto> {
    N::TENSORS
        .iter()
        .enumerate()
        .map(|(index, info)| {
            let mut column_major = Vec::with_capacity(info.len() * size_of::<T>());
            T::extend_le_bytes(net.tensor(index), &mut column_major);
            TensorProto {
                dims: info.shape.iter().map(|&d| dim(d)).collect(),
                data_type: elem_type::<T>(),
                name: info.name.to_string(),
                raw_data: nn_format::to_row_major(info.shape, &column_major, size_of::<T>()),
            }
        })
        .collect()
}

/// `<layer>.<suffix>` (`h1.weight`), checked to be one of the network's tensors.
fn tensor_name<T: Real, N: Parameters<T>>(
    layer: &LayerInfo,
    suffix: &str,
) -> Result<String, OnnxError> {
    let name = format!("{}.{suffix}", layer.name);
    match N::TENSORS.iter().any(|info| info.name == name) {
        true => Ok(name),
        false => Err(inconsistent(
            layer,
            format!("it needs the tensor `{name}`, which the network does not list"),
        )),
    }
}

fn unsupported(layer: &LayerInfo, what: &'static str) -> OnnxError {
    OnnxError::Unsupported {
        layer: layer.name.to_string(),
        what,
    }
}

/// The inputs of an affine node (`Gemm`, `Conv`) reading `x`: `x`, `<layer>.weight` and, when
/// the layer has one, `<layer>.bias`.
fn affine_inputs<T: Real, N: Parameters<T>>(
    layer: &LayerInfo,
    x: &str,
    bias: bool,
) -> Result<Vec<String>, OnnxError> {
    let mut inputs = vec![x.to_string(), tensor_name::<T, N>(layer, "weight")?];
    if bias {
        inputs.push(tensor_name::<T, N>(layer, "bias")?);
    }
    Ok(inputs)
}

fn inconsistent(layer: &LayerInfo, problem: String) -> OnnxError {
    OnnxError::Inconsistent {
        layer: layer.name.to_string(),
        problem,
    }
}

/// `TensorProto.DataType` of the scalar: `FLOAT` or `DOUBLE`.
fn elem_type<T: Real>() -> i32 {
    match size_of::<T>() {
        4 => proto::FLOAT,
        _ => proto::DOUBLE,
    }
}

/// A width as an ONNX dimension (a width is at most 2²⁴, far below `i64::MAX`).
fn dim(width: usize) -> i64 {
    i64::try_from(width).unwrap_or(i64::MAX)
}

/// A graph input or output `[batch, width]`, `batch` symbolic.
fn value_info(name: &str, elem_type: i32, width: usize) -> ValueInfoProto {
    let dims = [
        DimensionValue::DimParam("batch".to_string()),
        DimensionValue::DimValue(dim(width)),
    ];
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .into_iter()
                        .map(|value| Dimension { value: Some(value) })
                        .collect(),
                }),
            }),
        }),
    }
}

/// The network's type without its path and scalar: `Digits` for `my_crate::Digits<f32>`.
fn short_type_name<N>() -> String {
    let full = std::any::type_name::<N>();
    let without_generics = full.split('<').next().unwrap_or(full);
    let name = without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics);
    name.to_string()
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i,
        r#type: attribute_type::INT,
        ..AttributeProto::default()
    }
}

fn ints(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        ints,
        r#type: attribute_type::INTS,
        ..AttributeProto::default()
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        f,
        r#type: attribute_type::FLOAT,
        ..AttributeProto::default()
    }
}

fn string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        s: s.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..AttributeProto::default()
    }
}
