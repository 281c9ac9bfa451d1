//! A small ONNX front end on tract-hir: protobuf decoding, the graph builder and the op
//! set our models use (`ops`). tract-onnx's own front end registers every ONNX op and
//! links tract-nnef, whose start-up registration of a model transform keeps the NNEF
//! parser and every op's serialiser (rustfft among them) in any wasm that links it:
//! with it the SDK's wasm was 2.07 MB gzipped. Both sides load through this module, so
//! the browser and the verifier still run the same graphs.

mod depthwise;
mod max_pool;
mod ops;
mod pointwise;
pub(crate) mod proto;
mod short_constants;

use std::collections::HashMap;

use prost::Message;
use proto::{AttributeProto, ModelProto, NodeProto, TensorProto};
use tract_hir::internal::*;

/// Decodes an ONNX model, applies `rewrite` to its protobuf (which may refuse it, before
/// the costly part), builds it for one f32 input of `input_shape`, and returns it typed
/// and optimised.
pub(crate) fn optimized_model(
    bytes: &[u8],
    input_shape: &[usize],
    rewrite: impl FnOnce(&mut ModelProto) -> TractResult<()>,
) -> TractResult<TypedModel> {
    let mut proto = ModelProto::decode(bytes).context("not an ONNX model")?;
    rewrite(&mut proto)?;
    let mut model = inference_model(&proto, input_shape)?
        .into_typed()?
        .into_decluttered()?;
    pointwise::replace(&mut model)?;
    depthwise::replace(&mut model)?;
    // What `into_optimized` does after its own declutter, which has been done.
    model.optimize()?;
    short_constants::widen(&mut model)?;
    max_pool::replace_2x2_stride_2(&mut model)?;
    Ok(model)
}

/// The model's graph as tract's inference model, before typing.
pub(crate) fn inference_model(
    proto: &ModelProto,
    input_shape: &[usize],
) -> TractResult<InferenceModel> {
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .context("the model imports no ONNX operator set")?;
    let graph = proto.graph.as_ref().context("the model has no graph")?;
    let initializers: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut model = InferenceModel::default();
    let mut outlets: HashMap<&str, OutletId> = HashMap::new();
    for input in graph
        .input
        .iter()
        .filter(|i| !initializers.contains_key(i.name.as_str()))
    {
        ensure!(
            model.inputs.is_empty(),
            "the model has more than one input ({})",
            input.name
        );
        let fact = InferenceFact::dt_shape(f32::datum_type(), input_shape);
        outlets.insert(&input.name, model.add_source(&input.name, fact)?);
    }
    ensure!(!model.inputs.is_empty(), "the model has no input");
    let consts = Constants {
        initializers: &initializers,
    };
    for node in &graph.node {
        let name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        let built = if node.op_type == "Constant" {
            ops::Built {
                op: None,
                constant: Some(tensor(
                    node.attr("value")?.t.as_ref().context("no tensor")?,
                )?),
                wired: vec![],
            }
        } else {
            ops::build(node, opset, &consts).with_context(|| {
                format!("building node {name} ({}, opset {opset})", node.op_type)
            })?
        };
        let outputs = match (built.op, built.constant) {
            (_, Some(value)) => tvec![model.add_const(&name, value)?],
            (Some(op), None) => {
                let mut wires = tvec![];
                for input in built.wired {
                    let wire = match outlets.get(input) {
                        Some(outlet) => *outlet,
                        None => {
                            let t = initializers
                                .get(input)
                                .with_context(|| format!("node {name} reads unknown {input}"))?;
                            let outlet = model.add_const(input, tensor(t)?)?;
                            outlets.insert(input, outlet);
                            outlet
                        }
                    };
                    wires.push(wire);
                }
                model.wire_node(&name, op, &wires)?
            }
            (None, None) => bail!("node {name} builds nothing"),
        };
        for (outlet, label) in outputs.iter().zip(&node.output) {
            model.set_outlet_label(*outlet, label.clone())?;
            outlets.insert(label, *outlet);
        }
    }
    let outputs = graph
        .output
        .iter()
        .map(|o| {
            outlets
                .get(o.name.as_str())
                .copied()
                .with_context(|| format!("no node computes the output {}", o.name))
        })
        .collect::<TractResult<Vec<_>>>()?;
    model.select_output_outlets(&outputs)?;
    Ok(model)
}

/// Initializers a node may take as parameters (pads, axes, scales) rather than as wires.
pub(crate) struct Constants<'a> {
    initializers: &'a HashMap<&'a str, &'a TensorProto>,
}

impl Constants<'_> {
    /// The value of input `ix` of `node`, if that input is given and constant.
    fn input(&self, node: &NodeProto, ix: usize) -> TractResult<Option<Tensor>> {
        match node.input.get(ix).filter(|name| !name.is_empty()) {
            None => Ok(None),
            Some(name) => match self.initializers.get(name.as_str()) {
                Some(t) => Ok(Some(tensor(t)?)),
                None => bail!("input {ix} ({name}) must be a constant"),
            },
        }
    }

    fn i64s(&self, node: &NodeProto, ix: usize) -> TractResult<Option<Vec<i64>>> {
        self.input(node, ix)?
            .map(|t| {
                Ok(t.cast_to::<i64>()?
                    .to_plain_array_view::<i64>()?
                    .iter()
                    .copied()
                    .collect())
            })
            .transpose()
    }
}

/// An ONNX tensor as a tract tensor: FLOAT, INT32 or INT64, inline or raw little-endian.
pub(crate) fn tensor(t: &TensorProto) -> TractResult<Tensor> {
    ensure!(
        t.data_location == 0,
        "tensor {} is stored externally",
        t.name
    );
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).with_context(|| format!("tensor {} has dim {d}", t.name)))
        .collect::<TractResult<Vec<usize>>>()?;
    let len: usize = shape.iter().product();
    fn values<T: Datum, const N: usize>(
        raw: &[u8],
        inline: Vec<T>,
        len: usize,
        from_le: fn([u8; N]) -> T,
    ) -> TractResult<Vec<T>> {
        let v: Vec<T> = if raw.is_empty() {
            inline
        } else {
            ensure!(
                raw.len().is_multiple_of(N),
                "raw data is not a whole number of values"
            );
            raw.chunks_exact(N)
                .map(|c| from_le(c.try_into().expect("chunk of N bytes")))
                .collect()
        };
        ensure!(v.len() == len, "{} values for {len} elements", v.len());
        Ok(v)
    }
    let raw = &t.raw_data;
    let tensor = match t.data_type {
        proto::FLOAT => Tensor::from_shape(
            &shape,
            &values(raw, t.float_data.clone(), len, f32::from_le_bytes)?,
        )?,
        proto::INT32 => Tensor::from_shape(
            &shape,
            &values(raw, t.int32_data.clone(), len, i32::from_le_bytes)?,
        )?,
        proto::INT64 => Tensor::from_shape(
            &shape,
            &values(raw, t.int64_data.clone(), len, i64::from_le_bytes)?,
        )?,
        other => bail!("tensor {} has unsupported data type {other}", t.name),
    };
    Ok(tensor)
}

/// Attribute lookup on a node, with the types our ops read.
pub(crate) trait Attributes {
    fn attr_opt(&self, name: &str) -> Option<&AttributeProto>;

    fn attr(&self, name: &str) -> TractResult<&AttributeProto> {
        self.attr_opt(name)
            .with_context(|| format!("attribute {name} is missing"))
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.attr_opt(name).map(|a| a.i)
    }

    fn float(&self, name: &str) -> Option<f32> {
        self.attr_opt(name).map(|a| a.f)
    }

    fn string(&self, name: &str) -> TractResult<Option<&str>> {
        self.attr_opt(name)
            .map(|a| std::str::from_utf8(&a.s).with_context(|| format!("attribute {name}")))
            .transpose()
    }

    fn ints(&self, name: &str) -> Option<&[i64]> {
        self.attr_opt(name).map(|a| a.ints.as_slice())
    }

    fn usizes(&self, name: &str) -> TractResult<Option<TVec<usize>>> {
        self.ints(name)
            .map(|v| {
                v.iter()
                    .map(|&i| usize::try_from(i).with_context(|| format!("{name} has {i}")))
                    .collect()
            })
            .transpose()
    }
}

impl Attributes for NodeProto {
    fn attr_opt(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name == name)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
