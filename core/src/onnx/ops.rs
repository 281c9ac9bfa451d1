//! ONNX ops as tract-hir ops: the set YuNet, Face Mesh V2, Blendshape V2, MiniFASNet
//! and dlib's ResNet use, after the PRelu rewrite. Parameters that ONNX passes as inputs
//! (pads, axes, scales) are read from the initializers when the graph is built; an op
//! outside this set, or a parameter computed at run time, is a load error that names it.

use tract_hir::internal::*;
use tract_hir::ops;
use tract_hir::ops::array::{Pad, PadMode, StridedSlice};
use tract_hir::ops::binary::Nary;
use tract_hir::ops::cnn::{HirMaxPool, HirSumPool, PaddingSpec, PoolSpec};
use tract_hir::ops::nn::{DataFormat, Reducer};

use super::proto::NodeProto;
use super::{Attributes, Constants};

/// What a node becomes: an op and the inputs to wire into it, or a constant.
pub(super) struct Built<'a> {
    pub op: Option<Box<dyn InferenceOp>>,
    pub constant: Option<Tensor>,
    pub wired: Vec<&'a str>,
}

pub(super) fn build<'a>(
    node: &'a NodeProto,
    opset: i64,
    consts: &Constants,
) -> TractResult<Built<'a>> {
    use tract_hir::ops::math;
    let present: Vec<&str> = node
        .input
        .iter()
        .filter(|i| !i.is_empty())
        .map(String::as_str)
        .collect();
    let first = present.first().copied().into_iter().collect::<Vec<_>>();
    let op: Box<dyn InferenceOp> = match node.op_type.as_str() {
        "Conv" => conv(node, present.len())?,
        "MaxPool" => {
            ensure!(node.output.len() == 1, "MaxPool indices are not supported");
            expand(HirMaxPool::new(pool_spec(node)?, None))
        }
        "AveragePool" => {
            let count_include_pad = node.int("count_include_pad").unwrap_or(0) == 1;
            expand(HirSumPool::new(pool_spec(node)?, count_include_pad, true))
        }
        "GlobalAveragePool" => expand(ops::nn::GlobalAvgPool),
        "Relu" => expand(ops::activations::Clip::new(Some(0.0), None)),
        "Sigmoid" => ops::nn::sigmoid().into_hir(),
        "Sqrt" => math::sqrt().into_hir(),
        "Neg" => math::neg().into_hir(),
        "Reciprocal" => math::recip().into_hir(),
        "Add" => math::Add.into_hir(),
        "Sub" => math::Sub.into_hir(),
        "Mul" => math::Mul.into_hir(),
        "Div" => math::Div.into_hir(),
        "Max" => Box::new(Nary(Box::new(math::Max), false)),
        "Min" => Box::new(Nary(Box::new(math::Min), false)),
        "MatMul" => expand(ops::matmul::MatMulInference::default()),
        "BatchNormalization" => return batch_norm(node, consts),
        "Transpose" => {
            let perm = node.usizes("perm")?;
            expand(ops::array::PermuteAxes::new(perm))
        }
        "Reshape" => {
            let allow_zero = node.int("allowzero").unwrap_or(0) != 0;
            expand(ops::array::Reshape::new(allow_zero))
        }
        "Flatten" => expand(ops::array::Flatten::new(node.int("axis").unwrap_or(1))),
        "Concat" => expand(ops::array::Concat::new(node.attr("axis")?.i)),
        "Slice" if opset >= 10 => {
            // data, starts, ends, then axes and steps, each optional.
            let optional = |ix: usize| {
                let given = node.input.get(ix).is_some_and(|i| !i.is_empty());
                given.then(|| node.input[..ix].iter().filter(|i| !i.is_empty()).count())
            };
            Box::new(StridedSlice {
                begin_mask: 0,
                end_mask: 0,
                shrink_axis_mask: 0,
                optional_axes_input: optional(3),
                optional_steps_input: optional(4),
            })
        }
        "Pad" => {
            return Ok(Built {
                op: Some(pad(node, opset, consts)?),
                constant: None,
                wired: first,
            })
        }
        "Squeeze" => {
            let axes = if opset >= 13 {
                consts.i64s(node, 1)?
            } else {
                node.ints("axes").map(<[i64]>::to_vec)
            };
            let axes = axes.map(|a| a.into_iter().map(|x| x as isize).collect());
            return Ok(Built {
                op: Some(expand(ops::array::Squeeze::new(axes))),
                constant: None,
                wired: first,
            });
        }
        "ReduceMean" | "ReduceSum" => {
            let reducer = if node.op_type == "ReduceSum" {
                Reducer::Sum
            } else {
                Reducer::Mean
            };
            // ReduceSum took its axes as an input from opset 13, the others from 18.
            let axes_as_input = (opset >= 13 && reducer == Reducer::Sum) || opset >= 18;
            let axes = if axes_as_input {
                consts.i64s(node, 1)?.filter(|a| !a.is_empty())
            } else {
                node.ints("axes").map(<[i64]>::to_vec)
            };
            if axes.is_none() && node.int("noop_with_empty_axes") == Some(1) {
                bail!("a reduction over no axes is not supported");
            }
            let keep_dims = node.int("keepdims").unwrap_or(1) == 1;
            return Ok(Built {
                op: Some(expand(ops::nn::Reduce::new(axes, keep_dims, reducer))),
                constant: None,
                wired: first,
            });
        }
        "Resize" => {
            return Ok(Built {
                op: Some(expand(resize(node, opset, consts)?)),
                constant: None,
                wired: first,
            })
        }
        other => bail!("the ONNX op {other} is not supported"),
    };
    Ok(Built {
        op: Some(op),
        constant: None,
        wired: present,
    })
}

/// ONNX's pads (all befores, then all afters) or auto_pad, as tract's padding.
fn padding(node: &NodeProto, pool: bool) -> TractResult<PaddingSpec> {
    let ceil_mode = node.int("ceil_mode").unwrap_or(0) == 1;
    let explicit = |before: TVec<usize>, after: TVec<usize>| {
        if pool {
            PaddingSpec::ExplicitOnnxPool(before, after, ceil_mode)
        } else {
            PaddingSpec::Explicit(before, after)
        }
    };
    if let Some(pads) = node.usizes("pads")? {
        let (before, after) = pads.split_at(pads.len() / 2);
        return Ok(explicit(before.into(), after.into()));
    }
    Ok(match node.string("auto_pad")?.unwrap_or("NOTSET") {
        "NOTSET" => match node.ints("kernel_shape") {
            Some(k) => explicit(tvec![0; k.len()], tvec![0; k.len()]),
            None => PaddingSpec::Valid,
        },
        "VALID" => PaddingSpec::Valid,
        "SAME_UPPER" => PaddingSpec::SameUpper,
        "SAME_LOWER" => PaddingSpec::SameLower,
        other => bail!("auto_pad {other} is not an ONNX padding"),
    })
}

fn conv(node: &NodeProto, inputs: usize) -> TractResult<Box<dyn InferenceOp>> {
    let mut op = ops::cnn::Conv::default().padding(padding(node, false)?);
    if let Some(k) = node.usizes("kernel_shape")? {
        op = op.kernel_shape(k);
    }
    if let Some(group) = node.int("group") {
        op = op.group(usize::try_from(group).context("group")?);
    }
    if let Some(d) = node.usizes("dilations")? {
        op = op.dilations(d);
    }
    if let Some(s) = node.usizes("strides")? {
        op = op.strides(s);
    }
    if inputs == 3 {
        op = op.bias_input(2);
    }
    Ok(expand(op))
}

fn pool_spec(node: &NodeProto) -> TractResult<PoolSpec> {
    let kernel_shape = node.usizes("kernel_shape")?.context("kernel_shape")?;
    Ok(PoolSpec::new(
        DataFormat::NCHW,
        kernel_shape,
        padding(node, true)?,
        node.usizes("dilations")?,
        node.usizes("strides")?,
        0,
        0,
    ))
}

fn pad(node: &NodeProto, opset: i64, consts: &Constants) -> TractResult<Box<dyn InferenceOp>> {
    let pads = if opset >= 11 {
        ensure!(
            node.input.len() <= 3,
            "Pad over chosen axes is not supported"
        );
        consts.i64s(node, 1)?.context("pads")?
    } else {
        node.ints("pads").context("pads")?.to_vec()
    };
    let pads: Vec<usize> = pads
        .iter()
        .map(|&p| usize::try_from(p).context("negative pads are not supported"))
        .collect::<TractResult<_>>()?;
    ensure!(pads.len().is_multiple_of(2), "pads has an odd length");
    let rank = pads.len() / 2;
    let pads = (0..rank).map(|ax| (pads[ax], pads[rank + ax])).collect();
    let mode = match node.string("mode")?.unwrap_or("constant") {
        "constant" => {
            let value = if opset >= 11 {
                consts.input(node, 2)?.unwrap_or_else(|| tensor0(0f32))
            } else {
                tensor0(node.float("value").unwrap_or(0.0))
            };
            PadMode::Constant(value.into_arc_tensor())
        }
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => bail!("Pad mode {other} is not supported"),
    };
    Ok(Box::new(Pad::new(pads, mode)))
}

/// Resize, in the one form the detector uses: nearest-neighbour upsampling by whole
/// factors with asymmetric coordinates, which is pixel replication.
fn resize(node: &NodeProto, opset: i64, consts: &Constants) -> TractResult<Upsample> {
    ensure!(opset >= 11, "Resize before opset 11 is not supported");
    let mode = node.string("mode")?.unwrap_or("nearest");
    let coords = node
        .string("coordinate_transformation_mode")?
        .unwrap_or("half_pixel");
    let nearest = node.string("nearest_mode")?.unwrap_or("round_prefer_floor");
    ensure!(
        (mode, coords, nearest) == ("nearest", "asymmetric", "floor"),
        "Resize {mode} / {coords} / {nearest} is not supported (only nearest / asymmetric / floor)"
    );
    let scales = consts
        .input(node, 2)?
        .context("Resize without constant scales is not supported")?;
    let scales = scales.cast_to::<f32>()?;
    let scales = scales
        .to_plain_array_view::<f32>()?
        .iter()
        .map(|&s| {
            let whole = s.round();
            ensure!(s == whole && s >= 1.0, "Resize by {s} is not supported");
            Ok(whole as usize)
        })
        .collect::<TractResult<TVec<usize>>>()?;
    Ok(Upsample { scales })
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Upsample {
    scales: TVec<usize>,
}

impl Expansion for Upsample {
    fn name(&self) -> StaticName {
        "Upsample".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, self.scales.len() as i64)?;
        s.equals(&outputs[0].rank, self.scales.len() as i64)?;
        for (axis, &scale) in self.scales.iter().enumerate() {
            s.given(&inputs[0].shape[axis], move |s, dim| {
                s.equals(&outputs[0].shape[axis], dim * scale)
            })?;
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let op = tract_hir::tract_core::ops::nn::resize::NearestUpsample {
            scales: self.scales.clone(),
        };
        model.wire_node(prefix, op, inputs)
    }
}

/// Inference-mode batch normalisation, folded at load into one multiply and one add
/// per channel (axis 1).
fn batch_norm<'a>(node: &'a NodeProto, consts: &Constants) -> TractResult<Built<'a>> {
    ensure!(
        node.int("training_mode").unwrap_or(0) == 0,
        "BatchNormalization in training mode is not supported"
    );
    let epsilon = node.float("epsilon").unwrap_or(1e-5);
    let param = |ix: usize, what: &str| -> TractResult<Vec<f32>> {
        let t = consts.input(node, ix)?.context(what.to_string())?;
        Ok(t.cast_to::<f32>()?
            .to_plain_array_view::<f32>()?
            .iter()
            .copied()
            .collect())
    };
    let (scale, bias) = (param(1, "scale")?, param(2, "bias")?);
    let (mean, var) = (param(3, "mean")?, param(4, "var")?);
    let channels = scale.len();
    ensure!(
        [bias.len(), mean.len(), var.len()] == [channels; 3],
        "BatchNormalization parameters differ in length"
    );
    let slope: Vec<f32> = scale
        .iter()
        .zip(&var)
        .map(|(s, v)| s / (v + epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = bias
        .iter()
        .zip(&mean)
        .zip(&slope)
        .map(|((b, m), k)| b - m * k)
        .collect();
    Ok(Built {
        op: Some(expand(ChannelAffine { slope, shift })),
        constant: None,
        wired: node.input.first().map(String::as_str).into_iter().collect(),
    })
}

/// `x · slope[c] + shift[c]` over channel axis 1.
#[derive(Debug, Clone, PartialEq)]
struct ChannelAffine {
    slope: Vec<f32>,
    shift: Vec<f32>,
}

impl std::hash::Hash for ChannelAffine {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for v in self.slope.iter().chain(&self.shift) {
            v.to_bits().hash(state);
        }
    }
}

impl Expansion for ChannelAffine {
    fn name(&self) -> StaticName {
        "ChannelAffine".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&inputs[0].shape[1], self.slope.len().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        use tract_hir::tract_core::ops::math;
        let rank = model.outlet_fact(inputs[0])?.rank();
        ensure!(rank >= 2, "BatchNormalization needs a channel axis");
        let mut shape = vec![1; rank];
        shape[1] = self.slope.len();
        let slope = model.add_const(
            format!("{prefix}.slope"),
            Tensor::from_shape(&shape, &self.slope)?,
        )?;
        let shift = model.add_const(
            format!("{prefix}.shift"),
            Tensor::from_shape(&shape, &self.shift)?,
        )?;
        let scaled = model.wire_node(format!("{prefix}.mul"), math::mul(), &[inputs[0], slope])?;
        model.wire_node(prefix, math::add(), &[scaled[0], shift])
    }
}
