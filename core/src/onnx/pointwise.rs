//! The 1×1 convolutions of a channels-first model, on x86_64 with AVX2 and FMA, read
//! where the map lies (`livecheck_wasm_kernels::pointwise_conv_tensor`) instead of
//! through tract's packed matrix product. YuNet's backbone has 14 and Face Mesh V2 62 (the
//! test counts every model's); their sums run over 8 to 128 channels only, where tract's
//! packing and per-tile costs dominate. Each output is bit for bit tract's (the test
//! compares whole models), so the verifier's numbers do not move; the browser, which has
//! no such kernel, keeps tract's product, as before.
//!
//! tract declutters a 1×1 convolution into an `EinSum` (map × filters) and an `Add` of
//! the bias, which its optimiser then fuses into one matrix product. `replace` swaps that
//! pair, on the decluttered model, for one `PointwiseConv`; the optimiser leaves it as it
//! is. What follows the convolution alone is taken in too, as the kernel computes it
//! where the sums are: a residual `Add` of another map, then a PReLU in either of the
//! forms `model::rewrite_prelu` writes. Face Mesh V2 follows each of its 1×1 convolutions
//! with a PReLU, 34 of them after a residual; as tract's own passes over the map they
//! took a fifth of its time. No ReLU is taken: in these models a ReLU follows a depthwise
//! convolution, and the only 1×1 convolutions before one (MiniFASNetV1SE's
//! squeeze-excitation) are one point wide and stay tract's.

use tract_hir::internal::*;
use tract_hir::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_hir::tract_core::ops::einsum::EinSum;
use tract_hir::tract_core::ops::math::{Add, Max, Min, Mul};

/// What `replace` swapped in a model.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Swapped {
    pub convolutions: usize,
    /// Of those, how many took in a residual `Add`, and how many a PReLU.
    pub residuals: usize,
    pub prelus: usize,
}

/// Swaps every qualifying 1×1 convolution of a decluttered model, with the bias `Add`,
/// residual `Add` and PReLU that follow it alone, for a `PointwiseConv`. Nothing where the
/// kernel does not run (another architecture, or a CPU without AVX2 and FMA).
pub(super) fn replace(model: &mut TypedModel) -> TractResult<Swapped> {
    let mut swapped = Swapped::default();
    if !kernel_runs() {
        return Ok(swapped);
    }
    for id in 0..model.nodes.len() {
        let Some(conv) = as_pointwise(model, id)? else {
            continue;
        };
        let mut last = id;
        let mut bias = None;
        if let Some(next) = sole_successor(model, last) {
            if let Some(b) = per_channel::<Add>(model, next, &conv)? {
                (last, bias) = (next, Some(b));
            }
        }
        let mut inputs = vec![model.nodes[id].inputs[0]];
        if let Some(next) = sole_successor(model, last) {
            if let Some(residual) = residual_of(model, next, last)? {
                inputs.push(residual);
                last = next;
                swapped.residuals += 1;
            }
        }
        let mut prelu = None;
        if let Some((end, form)) = prelu_after(model, last, &conv)? {
            (last, prelu) = (end, Some(form));
            swapped.prelus += 1;
        }
        let op = PointwiseConv {
            weights: conv.weights,
            bias,
            prelu,
            output_shape: conv.output_shape,
        };
        let mut patch = TypedModelPatch::new("pointwise conv");
        let taps = inputs
            .iter()
            .map(|i| patch.tap_model(model, *i))
            .collect::<TractResult<TVec<_>>>()?;
        let wire = patch.wire_node(&model.nodes[last].name, op, &taps)?[0];
        patch.shunt_outside(model, OutletId::new(last, 0), wire)?;
        patch.apply(model)?;
        swapped.convolutions += 1;
    }
    Ok(swapped)
}

#[cfg(target_arch = "x86_64")]
fn kernel_runs() -> bool {
    livecheck_wasm_kernels::pointwise_available()
}

#[cfg(not(target_arch = "x86_64"))]
fn kernel_runs() -> bool {
    false
}

/// The fewest points a swapped convolution has (see `as_pointwise`).
const MIN_POINTS: usize = 4;

struct Pointwise {
    /// `[output channels, input channels]`.
    weights: Arc<Tensor>,
    /// Where the output channels lie in the output.
    out_axis: usize,
    output_shape: TVec<usize>,
}

/// The node's filters when it is a 1×1 convolution as tract declutters one: an f32
/// `EinSum` of a map by constant filters `[o, i]`, where the map is `i` rows of points
/// (only unit axes before its `i` axis) and the output `o` rows of the same points in the
/// same order (only unit axes before its `o` axis). tract moves and drops the unit batch
/// axis as it declutters, so only unit axes may appear on one side alone.
fn as_pointwise(model: &TypedModel, id: usize) -> TractResult<Option<Pointwise>> {
    let node = &model.nodes[id];
    let Some(einsum) = node.op_as::<EinSum>() else {
        return Ok(None);
    };
    if einsum.q_params.is_some() || node.inputs.len() != 2 {
        return Ok(None);
    }
    let (map, filters) = (
        model.outlet_fact(node.inputs[0])?,
        model.outlet_fact(node.inputs[1])?,
    );
    let output = model.outlet_fact(OutletId::new(id, 0))?;
    let f32s = [map, filters, output]
        .iter()
        .all(|f| f.datum_type == f32::datum_type() && f.is_plain());
    let (Some(weights), Some(map_shape), Some(out_shape)) = (
        filters.konst.clone(),
        map.shape.as_concrete(),
        output.shape.as_concrete(),
    ) else {
        return Ok(None);
    };
    if !(f32s && filters.rank() == 2 && einsum.operating_dt == f32::datum_type()) {
        return Ok(None);
    }
    let axes = &einsum.axes;
    let summed = axes.axis((InOut::In(1), 1))?;
    let produced = axes.axis((InOut::In(1), 0))?;
    let (&[i_at], &[o_at]) = (summed.inputs[0].as_slice(), produced.outputs[0].as_slice()) else {
        return Ok(None);
    };
    let lone = summed.outputs[0].is_empty() && produced.inputs[0].is_empty();
    let rows_first =
        map_shape[..i_at].iter().all(|d| *d == 1) && out_shape[..o_at].iter().all(|d| *d == 1);
    if !(lone && rows_first) {
        return Ok(None);
    }
    // Every other axis: not the filters', and either carried from the map to the output
    // or a unit axis on one side alone. The carried axes of more than one point keep
    // their order, so a point's place is the same in both.
    let mut carried = vec![];
    for axis in axes.iter_all_axes() {
        if axis.repr == summed.repr || axis.repr == produced.repr {
            continue;
        }
        let (ins, outs) = (&axis.inputs[0], &axis.outputs[0]);
        if !axis.inputs[1].is_empty() || ins.len() > 1 || outs.len() > 1 {
            return Ok(None);
        }
        match (ins.first(), outs.first()) {
            (Some(&a), Some(&b)) if map_shape[a] == out_shape[b] => {
                if map_shape[a] > 1 {
                    carried.push((a, b));
                }
            }
            (Some(&a), None) if map_shape[a] == 1 => {}
            (None, Some(&b)) if out_shape[b] == 1 => {}
            _ => return Ok(None),
        }
    }
    carried.sort();
    let in_order = carried.windows(2).all(|w| w[0].1 < w[1].1);
    let after = carried.iter().all(|(a, b)| *a > i_at && *b > o_at);
    // A product over a point or two tract runs through its matrix-vector kernels, whose
    // sums are not one chain (MiniFASNetV1SE's squeeze-excitation, over one point, then
    // came out different); from MIN_POINTS on it is the matrix product whose arithmetic
    // the kernel repeats (the mesh's smallest, four points, is bit for bit).
    let points = map_shape[i_at + 1..].iter().product::<usize>();
    Ok(
        (in_order && after && points >= MIN_POINTS).then(|| Pointwise {
            weights,
            out_axis: o_at,
            output_shape: out_shape.into(),
        }),
    )
}

/// The one node reading the node's only output, unless that output is also a model output.
pub(super) fn sole_successor(model: &TypedModel, id: usize) -> Option<usize> {
    let node = &model.nodes[id];
    let outlet = OutletId::new(id, 0);
    let successors = &node.outputs.first()?.successors;
    (node.outputs.len() == 1 && successors.len() == 1 && !model.outputs.contains(&outlet))
        .then(|| successors[0].node)
}

/// The constant the binary op `id` applies, with the other input that is not a constant.
pub(super) fn binary_with_constant(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<(&TypedBinOp, Arc<Tensor>)>> {
    let node = &model.nodes[id];
    let Some(op) = node.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    if node.inputs.len() != 2 {
        return Ok(None);
    }
    let facts = [
        model.outlet_fact(node.inputs[0])?,
        model.outlet_fact(node.inputs[1])?,
    ];
    let output = model.outlet_fact(OutletId::new(id, 0))?;
    // The map's shape must be the output's: the constant only broadcasts.
    let constant = match (&facts[0].konst, &facts[1].konst) {
        (None, Some(c)) if facts[0].shape == output.shape => c.clone(),
        (Some(c), None) if facts[1].shape == output.shape => c.clone(),
        _ => return Ok(None),
    };
    let f32s = constant.datum_type() == f32::datum_type() && op.1.is_none();
    Ok(f32s.then_some((op, constant)))
}

/// The constant of the binary op `id` when the op is `O` and the constant holds one
/// value per output channel: its only axis of more than one value, once broadcast to
/// the output's rank, is the channels'.
fn per_channel<O: BinMiniOp>(
    model: &TypedModel,
    id: usize,
    conv: &Pointwise,
) -> TractResult<Option<Arc<Tensor>>> {
    let Some((op, constant)) = binary_with_constant(model, id)? else {
        return Ok(None);
    };
    let rank = conv.output_shape.len();
    let channels = conv.output_shape[conv.out_axis];
    let Some(missing) = rank.checked_sub(constant.rank()) else {
        return Ok(None);
    };
    let per_channel = constant.len() == channels
        && (constant.shape().iter().enumerate())
            .all(|(a, d)| *d == 1 || a + missing == conv.out_axis);
    Ok((op.0.is::<O>() && per_channel).then_some(constant))
}

/// The other map when `id` adds the output of `from` to a map of the same shape that is
/// not a constant (a residual connection).
fn residual_of(model: &TypedModel, id: usize, from: usize) -> TractResult<Option<OutletId>> {
    let node = &model.nodes[id];
    let is_add = node
        .op_as::<TypedBinOp>()
        .is_some_and(|op| op.0.is::<Add>() && op.1.is_none());
    if !is_add || node.inputs.len() != 2 {
        return Ok(None);
    }
    let ours = OutletId::new(from, 0);
    let other = match (node.inputs[0] == ours, node.inputs[1] == ours) {
        (true, false) => node.inputs[1],
        (false, true) => node.inputs[0],
        _ => return Ok(None),
    };
    let (ours, other_fact) = (model.outlet_fact(ours)?, model.outlet_fact(other)?);
    let output = model.outlet_fact(OutletId::new(id, 0))?;
    let same = other_fact.konst.is_none()
        && other_fact.is_plain()
        && other_fact.datum_type == f32::datum_type()
        && other_fact.shape == ours.shape
        && output.shape == ours.shape;
    Ok(same.then_some(other))
}

/// The PReLU that alone reads `v`'s output, as `model::rewrite_prelu` writes it: its last
/// node and its form with the per-channel values.
fn prelu_after(
    model: &TypedModel,
    v: usize,
    conv: &Pointwise,
) -> TractResult<Option<(usize, PreluForm)>> {
    let outlet = OutletId::new(v, 0);
    let node = &model.nodes[v];
    let readers: TVec<usize> = node.outputs[0].successors.iter().map(|s| s.node).collect();
    if node.outputs.len() != 1 || readers.len() != 2 || model.outputs.contains(&outlet) {
        return Ok(None);
    }
    // The node of the pair that combines `v` with the other's result.
    let joins = |first: usize, end: usize| {
        let inputs = &model.nodes[end].inputs;
        inputs.len() == 2 && inputs.contains(&outlet) && inputs.contains(&OutletId::new(first, 0))
    };
    for (first, end) in [(readers[0], readers[1]), (readers[1], readers[0])] {
        // max(v, v · slope)
        if let Some(slope) = per_channel::<Mul>(model, first, conv)? {
            if sole_successor(model, first) == Some(end)
                && binary_is::<Max>(model, end)
                && joins(first, end)
            {
                return Ok(Some((end, PreluForm::Max(slope))));
            }
        }
        // v + min(v, 0) · (slope − 1)
        let zero = binary_with_constant(model, first)?.filter(|(op, c)| {
            op.0.is::<Min>() && c.len() == 1 && c.cast_to_scalar::<f32>().is_ok_and(|z| z == 0.0)
        });
        let Some(mul) = zero.and_then(|_| sole_successor(model, first)) else {
            continue;
        };
        if let Some(t) = per_channel::<Mul>(model, mul, conv)? {
            if sole_successor(model, mul) == Some(end)
                && binary_is::<Add>(model, end)
                && joins(mul, end)
            {
                return Ok(Some((end, PreluForm::Min(t))));
            }
        }
    }
    Ok(None)
}

/// Whether the node is the binary op `O` of two maps (no constant folded in).
fn binary_is<O: BinMiniOp>(model: &TypedModel, id: usize) -> bool {
    let node = &model.nodes[id];
    node.op_as::<TypedBinOp>()
        .is_some_and(|op| op.0.is::<O>() && op.1.is_none())
        && node
            .inputs
            .iter()
            .all(|i| model.outlet_fact(*i).is_ok_and(|f| f.konst.is_none()))
}

/// A PReLU's form and its per-channel values, as the kernel's `Prelu`.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum PreluForm {
    /// `max(y, y · slope)`.
    Max(Arc<Tensor>),
    /// `y + min(y, 0) · (slope − 1)`: the values are slope − 1.
    Min(Arc<Tensor>),
}

/// One 1×1 convolution with what follows it: `i` rows of points into `o` rows, the bias
/// added, then the second input when there is one (a residual), then the PReLU.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct PointwiseConv {
    /// `[o, i]`.
    weights: Arc<Tensor>,
    /// `o` values, in whatever unit axes the model gave them (as the PReLU's).
    bias: Option<Arc<Tensor>>,
    prelu: Option<PreluForm>,
    output_shape: TVec<usize>,
}

impl Op for PointwiseConv {
    fn name(&self) -> StaticName {
        "PointwiseConv".into()
    }

    op_as_typed_op!();
}

impl EvalOp for PointwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (o, i) = (self.weights.shape()[0], self.weights.shape()[1]);
        let points = self.output_shape.iter().product::<usize>() / o.max(1);
        ensure!(
            inputs.first().is_some_and(|x| x.len() == i * points)
                && inputs.get(1).is_none_or(|r| r.len() == o * points)
                && inputs.len() <= 2,
            "PointwiseConv: inputs {:?} for {i} rows of {points} into {o}",
            inputs.iter().map(|t| t.shape()).collect::<Vec<_>>()
        );
        // tract's ops hand on natural layouts; anything else is laid out so first.
        let views = (inputs.iter())
            .map(|t| t.to_plain_array_view::<f32>())
            .collect::<TractResult<Vec<_>>>()?;
        let views: Vec<_> = views.iter().map(|v| v.as_standard_layout()).collect();
        let slices = (views.iter())
            .map(|v| {
                v.as_slice()
                    .context("PointwiseConv: a standard layout is contiguous")
            })
            .collect::<TractResult<Vec<_>>>()?;
        let output = run(self, slices[0], slices.get(1).copied(), i, points)?
            .context("PointwiseConv: the kernel does not run here")?;
        Ok(tvec!(output.into_tvalue()))
    }
}

/// The op's kernel over the map `x` (`k` rows of `n` points) and the residual.
#[cfg(target_arch = "x86_64")]
fn run(
    op: &PointwiseConv,
    x: &[f32],
    residual: Option<&[f32]>,
    k: usize,
    n: usize,
) -> TractResult<Option<Tensor>> {
    use livecheck_wasm_kernels::{pointwise_conv_tensor, Pointwise, Prelu};
    fn values(t: &Arc<Tensor>) -> TractResult<&[f32]> {
        t.try_as_plain_ram()?.as_slice::<f32>()
    }
    let prelu = match &op.prelu {
        None => None,
        Some(PreluForm::Max(t)) => Some(Prelu::Max(values(t)?)),
        Some(PreluForm::Min(t)) => Some(Prelu::Min(values(t)?)),
    };
    let conv = Pointwise {
        x,
        w: values(&op.weights)?,
        k,
        n,
        bias: op.bias.as_ref().map(values).transpose()?,
        residual,
        prelu,
    };
    Ok(pointwise_conv_tensor(&conv, &op.output_shape))
}

/// Never reached: `replace` swaps nothing where the kernel does not run.
#[cfg(not(target_arch = "x86_64"))]
fn run(
    _: &PointwiseConv,
    _: &[f32],
    _: Option<&[f32]>,
    _: usize,
    _: usize,
) -> TractResult<Option<Tensor>> {
    Ok(None)
}

impl TypedOp for PointwiseConv {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}

/// On x86_64 only: elsewhere nothing is swapped.
#[cfg(test)]
mod tests {
    #[cfg(target_arch = "x86_64")]
    use prost::Message;

    #[cfg(target_arch = "x86_64")]
    use super::super::{inference_model, proto::ModelProto};
    #[cfg(target_arch = "x86_64")]
    use super::*;

    /// Each output's values as bits.
    #[cfg(target_arch = "x86_64")]
    type Bits = Vec<Vec<u32>>;

    /// Each model as tract declutters it, with and without the swap, optimised and run
    /// on the same input: how many were swapped, and every output's bits, each way.
    #[cfg(target_arch = "x86_64")]
    fn both_ways(file: &str, shape: &[usize]) -> ((Swapped, [usize; 2]), Bits, Bits) {
        let path = format!("{}/../models/cache/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (models/fetch.sh)"));
        let mut proto = ModelProto::decode(&bytes[..]).unwrap();
        // As every model is loaded (`OnnxModel`): tract runs no PRelu of its own.
        crate::model::rewrite_prelu(&mut proto);
        let tracts = inference_model(&proto, shape)
            .unwrap()
            .into_typed()
            .unwrap();
        let tracts = tracts.into_decluttered().unwrap();
        let mut ours = tracts.clone();
        // As `optimized_model` swaps.
        let swapped = replace(&mut ours).unwrap();
        let swapped = (
            swapped,
            super::super::depthwise::replace(&mut ours).unwrap(),
        );
        let len: usize = shape.iter().product();
        // Values of both signs and many magnitudes, so a sum in another order would round
        // differently somewhere.
        let input: Vec<f32> = (0..len)
            .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 997.0)
            .collect();
        let input = tract_ndarray::ArrayD::from_shape_vec(shape, input).unwrap();
        let run = |mut model: TypedModel| {
            // As `optimized_model` does after the swap.
            model.optimize().unwrap();
            let outputs = model
                .into_runnable()
                .unwrap()
                .run(tvec!(input.clone().into_tvalue()))
                .unwrap();
            outputs
                .iter()
                .map(|t| {
                    let t = t.to_plain_array_view::<f32>().unwrap();
                    t.iter().map(|v| v.to_bits()).collect()
                })
                .collect::<Vec<Vec<u32>>>()
        };
        (swapped, run(ours), run(tracts))
    }

    /// Every 1×1 convolution of the models the verifier runs is swapped where it
    /// qualifies, with the residual and PReLU after it, every depthwise convolution at
    /// stride 1 too (`depthwise`), and every output of each model is
    /// bit for bit tract's own (an FMA in the PReLU's `Min` form makes 1369 of the mesh's
    /// 1434 landmark values differ). On x86_64
    /// only (it reads the models); skipped on a CPU without the kernel.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_models_compute_tracts_numbers_bit_for_bit() {
        if !kernel_runs() {
            return;
        }
        // 1×1 convolutions, of those the residuals and PReLUs taken in; depthwise
        // convolutions (`depthwise::replace`), of those the ReLUs taken in.
        for (file, shape, [convolutions, residuals, prelus, depthwise, relus]) in [
            (
                "face_detection_yunet_2023mar_320.onnx",
                &[1, 3, 320, 320][..],
                [14, 0, 0, 14, 14],
            ),
            (
                "mediapipe_face_landmarks_detector.onnx",
                &[1, 256, 256, 3],
                [62, 34, 62, 34, 0],
            ),
            (
                "mediapipe_face_blendshapes.onnx",
                &[1, 146, 2],
                [6, 3, 0, 0, 0],
            ),
            (
                "2.7_80x80_MiniFASNetV2.onnx",
                &[1, 3, 80, 80],
                [31, 12, 16, 14, 0],
            ),
            (
                "4_0_0_80x80_MiniFASNetV1SE.onnx",
                &[1, 3, 80, 80],
                [31, 9, 16, 14, 0],
            ),
            (
                "dlib_face_recognition_resnet_model_v1.onnx",
                &[1, 3, 150, 150],
                [0, 0, 0, 0, 0],
            ),
        ] {
            let (swapped, ours, tracts) = both_ways(file, shape);
            let expected = Swapped {
                convolutions,
                residuals,
                prelus,
            };
            assert_eq!(swapped, (expected, [depthwise, relus]), "{file}");
            assert_eq!(ours.len(), tracts.len(), "{file}: outputs");
            for (o, (a, b)) in ours.iter().zip(&tracts).enumerate() {
                let differ = a.iter().zip(b).filter(|(a, b)| a != b).count();
                assert_eq!(
                    differ,
                    0,
                    "{file}: output {o} differs in {differ} of {}",
                    a.len()
                );
            }
        }
    }
}
