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
//! is. No activation is fused: in these models a ReLU follows a depthwise convolution,
//! the 1×1 ones are followed by PReLUs, and the only 1×1 convolutions before a ReLU
//! (MiniFASNetV1SE's squeeze-excitation) are one point wide and stay tract's.

use tract_hir::internal::*;
use tract_hir::tract_core::ops::binary::TypedBinOp;
use tract_hir::tract_core::ops::einsum::EinSum;
use tract_hir::tract_core::ops::math::Add;

/// Swaps every qualifying 1×1 convolution of a decluttered model, with the bias `Add`
/// that follows it alone, for a `PointwiseConv`; returns how many. None where the
/// kernel does not run (another architecture, or a CPU without AVX2 and FMA).
pub(super) fn replace(model: &mut TypedModel) -> TractResult<usize> {
    if !kernel_runs() {
        return Ok(0);
    }
    let mut replaced = 0;
    for id in 0..model.nodes.len() {
        let Some(conv) = as_pointwise(model, id)? else {
            continue;
        };
        let mut last = id;
        let mut bias = None;
        if let Some(next) = sole_successor(model, last) {
            if let Some(b) = bias_of(model, next, &conv)? {
                (last, bias) = (next, Some(b));
            }
        }
        let op = PointwiseConv {
            weights: conv.weights,
            bias,
            output_shape: conv.output_shape,
        };
        let mut patch = TypedModelPatch::new("pointwise conv");
        let input = patch.tap_model(model, model.nodes[id].inputs[0])?;
        let wire = patch.wire_node(&model.nodes[last].name, op, &[input])?[0];
        patch.shunt_outside(model, OutletId::new(last, 0), wire)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
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
fn sole_successor(model: &TypedModel, id: usize) -> Option<usize> {
    let node = &model.nodes[id];
    let outlet = OutletId::new(id, 0);
    let successors = &node.outputs.first()?.successors;
    (node.outputs.len() == 1 && successors.len() == 1 && !model.outputs.contains(&outlet))
        .then(|| successors[0].node)
}

/// The constant the binary op `id` applies, with the other input that is not a constant.
fn binary_with_constant(
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

/// The node's bias when it adds one value per output channel: a constant whose only
/// axis of more than one value, once broadcast to the output's rank, is the channels'.
fn bias_of(model: &TypedModel, id: usize, conv: &Pointwise) -> TractResult<Option<Arc<Tensor>>> {
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
    Ok((op.0.is::<Add>() && per_channel).then_some(constant))
}

/// One 1×1 convolution and its bias: `i` rows of points into `o` rows.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct PointwiseConv {
    /// `[o, i]`.
    weights: Arc<Tensor>,
    /// `o` values, in whatever unit axes the model gave them.
    bias: Option<Arc<Tensor>>,
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
        let input = args_1!(inputs);
        let (o, i) = (self.weights.shape()[0], self.weights.shape()[1]);
        let points = self.output_shape.iter().product::<usize>() / o.max(1);
        ensure!(
            input.len() == i * points,
            "PointwiseConv: input {:?} for {i} rows of {points}",
            input.shape()
        );
        // tract's ops hand on natural layouts; anything else is laid out so first.
        let view = input.to_plain_array_view::<f32>()?;
        let view = view.as_standard_layout();
        let x = view
            .as_slice()
            .context("PointwiseConv: a standard layout is contiguous")?;
        let w = self.weights.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = self
            .bias
            .as_ref()
            .map(|t| t.try_as_plain_ram()?.as_slice::<f32>())
            .transpose()?;
        let output = run(x, w, bias, i, points, &self.output_shape)
            .context("PointwiseConv: the kernel does not run here")?;
        Ok(tvec!(output.into_tvalue()))
    }
}

#[cfg(target_arch = "x86_64")]
use livecheck_wasm_kernels::pointwise_conv_tensor as run;

/// Never reached: `replace` swaps nothing where the kernel does not run.
#[cfg(not(target_arch = "x86_64"))]
fn run(_: &[f32], _: &[f32], _: Option<&[f32]>, _: usize, _: usize, _: &[usize]) -> Option<Tensor> {
    None
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

    /// Each model as tract declutters it, with and without the swap, optimised and run
    /// on the same input: how many were swapped, and every output's bits, each way.
    #[cfg(target_arch = "x86_64")]
    fn both_ways(file: &str, shape: &[usize]) -> (usize, Vec<Vec<u32>>, Vec<Vec<u32>>) {
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
        let swapped = replace(&mut ours).unwrap();
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
    /// qualifies, and every output of each model is bit for bit tract's own. On x86_64
    /// only (it reads the models); skipped on a CPU without the kernel.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_models_compute_tracts_numbers_bit_for_bit() {
        if !kernel_runs() {
            return;
        }
        for (file, shape, expected) in [
            (
                "face_detection_yunet_2023mar_320.onnx",
                &[1, 3, 320, 320][..],
                14,
            ),
            (
                "mediapipe_face_landmarks_detector.onnx",
                &[1, 256, 256, 3],
                62,
            ),
            ("mediapipe_face_blendshapes.onnx", &[1, 146, 2], 6),
            ("2.7_80x80_MiniFASNetV2.onnx", &[1, 3, 80, 80], 31),
            ("4_0_0_80x80_MiniFASNetV1SE.onnx", &[1, 3, 80, 80], 31),
            (
                "dlib_face_recognition_resnet_model_v1.onnx",
                &[1, 3, 150, 150],
                0,
            ),
        ] {
            let (swapped, ours, tracts) = both_ways(file, shape);
            eprintln!("{file}: {swapped} swapped");
            assert_eq!(swapped, expected, "{file}: swapped");
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
