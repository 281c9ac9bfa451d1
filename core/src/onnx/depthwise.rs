//! Depthwise convolutions at stride 1 of a channels-first model, on x86_64 with AVX, over
//! planes padded with zeros first (`livecheck_wasm_kernels::depthwise_padded_tensor`).
//! tract splits such a convolution into zones: the inside, which its depthwise kernel
//! (ours, `depthwise_x86`) walks a row at a time, and each border, which it walks one
//! output at a time through its zone scanner. On YuNet's small maps the borders are a
//! large share of the points (a 10×10 map has 36 on its border), and under load the
//! border walks took about a third of the depthwise time. Padded, every row is the same
//! vector walk. YuNet has 20 such convolutions and Face Mesh V2 34 (the test counts
//! them); the browser keeps tract's op.
//!
//! A ReLU that alone reads the convolution (YuNet has one after each) is applied as the
//! sums are stored, which saves its pass over the map.
//!
//! The sum is tract's, in its order: the bias, then each tap's product added. A tap over
//! the padding adds a zero product where tract skips the tap, which leaves any sum that is
//! not zero as it is; the whole-model test compares every output bit for bit.

use tract_hir::internal::*;
use tract_hir::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_hir::tract_core::ops::math::Max;
use tract_hir::tract_core::ops::nn::DataFormat;

use super::pointwise::{binary_with_constant, sole_successor};

/// Swaps every qualifying depthwise `Conv` of a decluttered model, with the ReLU that
/// follows it alone, for a `DepthwisePadded`; returns how many, and how many of those
/// took in a ReLU. None where the kernel does not run.
pub(super) fn replace(model: &mut TypedModel) -> TractResult<[usize; 2]> {
    let mut replaced = [0, 0];
    if !kernel_runs() {
        return Ok(replaced);
    }
    for id in 0..model.nodes.len() {
        let Some(mut op) = as_depthwise(model, id)? else {
            continue;
        };
        let mut last = id;
        if let Some(next) = sole_successor(model, id).filter(|n| is_relu(model, *n)) {
            (last, op.relu) = (next, true);
            replaced[1] += 1;
        }
        let mut patch = TypedModelPatch::new("depthwise padded");
        let input = patch.tap_model(model, model.nodes[id].inputs[0])?;
        let wire = patch.wire_node(&model.nodes[last].name, op, &[input])?[0];
        patch.shunt_outside(model, OutletId::new(last, 0), wire)?;
        patch.apply(model)?;
        replaced[0] += 1;
    }
    Ok(replaced)
}

#[cfg(target_arch = "x86_64")]
fn kernel_runs() -> bool {
    std::is_x86_feature_detected!("avx")
}

#[cfg(not(target_arch = "x86_64"))]
fn kernel_runs() -> bool {
    false
}

/// Whether the node is a ReLU as tract declutters one: the maximum of a map and a single
/// constant zero.
fn is_relu(model: &TypedModel, id: usize) -> bool {
    binary_with_constant(model, id).is_ok_and(|b| {
        b.is_some_and(|(op, c)| {
            op.0.is::<Max>() && c.len() == 1 && c.cast_to_scalar::<f32>().is_ok_and(|z| z == 0.0)
        })
    })
}

/// The op for the node when it is an f32 depthwise convolution (one group per channel,
/// one output channel each) at stride 1 without dilation, channels first, with constant
/// filters `[c, 1, kh, kw]` and a constant bias of one value per channel.
fn as_depthwise(model: &TypedModel, id: usize) -> TractResult<Option<DepthwisePadded>> {
    let node = &model.nodes[id];
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let spec = &conv.pool_spec;
    let channels = spec.input_channels;
    let plain = conv.q_params.is_none()
        && conv.kernel_fmt == KernelFormat::OIHW
        && conv.group == channels
        && spec.output_channels == channels
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.kernel_shape.len() == 2
        && spec.strides().iter().all(|s| *s == 1)
        && spec.dilations().iter().all(|d| *d == 1)
        && node.inputs.len() == 3;
    if !plain {
        return Ok(None);
    }
    let facts = [0, 1, 2].map(|i| model.outlet_fact(node.inputs[i]));
    let [x, filters, bias] = facts;
    let (x, filters, bias) = (x?, filters?, bias?);
    let output = model.outlet_fact(OutletId::new(id, 0))?;
    let (Some(shape), Some(out_shape), Some(filters), Some(bias)) = (
        x.shape.as_concrete(),
        output.shape.as_concrete(),
        filters.konst.clone(),
        bias.konst.clone(),
    ) else {
        return Ok(None);
    };
    let f32s = [
        x.datum_type,
        output.datum_type,
        filters.datum_type(),
        bias.datum_type(),
    ]
    .iter()
    .all(|d| *d == f32::datum_type());
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    let batch_of_one = spec.data_format == DataFormat::CHW || shape.first() == Some(&1);
    if !(f32s && x.is_plain() && batch_of_one && shape.len() >= 3)
        || *filters.shape() != [channels, 1, kh, kw]
        || bias.len() != channels
    {
        return Ok(None);
    }
    let hw = [shape[shape.len() - 2], shape[shape.len() - 1]];
    let padding = spec.computed_padding(&hw);
    let pads = [
        padding[0].pad_before,
        padding[0].pad_after,
        padding[1].pad_before,
        padding[1].pad_after,
    ];
    // A kernel wider than the padded map has no output: not ours to judge.
    let (Some(out_h), Some(out_w)) = (
        (hw[0] + pads[0] + pads[1] + 1).checked_sub(kh),
        (hw[1] + pads[2] + pads[3] + 1).checked_sub(kw),
    ) else {
        return Ok(None);
    };
    let out_len = channels * out_h * out_w;
    if out_shape.iter().product::<usize>() != out_len || shape[shape.len() - 3] != channels {
        return Ok(None);
    }
    Ok(Some(DepthwisePadded {
        filters,
        bias,
        channels,
        input_hw: hw,
        pads,
        kernel: [kh, kw],
        relu: false,
        output_shape: out_shape.into(),
    }))
}

/// A depthwise convolution at stride 1 over zero-padded planes, and maybe its ReLU.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct DepthwisePadded {
    /// `[c, 1, kh, kw]`.
    filters: Arc<Tensor>,
    /// `c` values.
    bias: Arc<Tensor>,
    channels: usize,
    input_hw: [usize; 2],
    /// Top, bottom, left, right.
    pads: [usize; 4],
    kernel: [usize; 2],
    /// Whether the ReLU that follows is applied too.
    relu: bool,
    output_shape: TVec<usize>,
}

impl Op for DepthwisePadded {
    fn name(&self) -> StaticName {
        "DepthwisePadded".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwisePadded {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        // tract's ops hand on natural layouts; anything else is laid out so first.
        let view = input.to_plain_array_view::<f32>()?;
        let view = view.as_standard_layout();
        let x = view
            .as_slice()
            .context("DepthwisePadded: a standard layout is contiguous")?;
        let output = run(self, x)?
            .with_context(|| format!("DepthwisePadded: input {:?} does not fit", input.shape()))?;
        Ok(tvec!(output.into_tvalue()))
    }
}

#[cfg(target_arch = "x86_64")]
fn run(op: &DepthwisePadded, x: &[f32]) -> TractResult<Option<Tensor>> {
    let taps = op.filters.try_as_plain_ram()?.as_slice::<f32>()?;
    let bias = op.bias.try_as_plain_ram()?.as_slice::<f32>()?;
    let conv = livecheck_wasm_kernels::Depthwise {
        x,
        channels: op.channels,
        plane: op.input_hw,
        pads: op.pads,
        taps,
        kernel: op.kernel,
        bias,
        relu: op.relu,
    };
    Ok(livecheck_wasm_kernels::depthwise_padded_tensor(
        &conv,
        &op.output_shape,
    ))
}

/// Never reached: `replace` swaps nothing where the kernel does not run.
#[cfg(not(target_arch = "x86_64"))]
fn run(_: &DepthwisePadded, _: &[f32]) -> TractResult<Option<Tensor>> {
    Ok(None)
}

impl TypedOp for DepthwisePadded {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}
