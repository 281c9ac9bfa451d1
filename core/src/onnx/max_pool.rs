//! Max pooling over 2×2 windows at stride 2 without padding: every pool YuNet and Face
//! Mesh V2 have (ten nodes). tract's own op walks such windows one output at a time in
//! scalar code (its vector path is for stride 1); under Node its pools took 8.8 ms of the
//! two models' 62. This op computes a row of outputs at a time, four lanes at once in wasm
//! (`livecheck_wasm_kernels::max_2x2_row`), and gives tract's answer: each output is
//! `f32::MIN` folded with `f32::max` over its window, row by row.

use tract_hir::internal::*;
use tract_hir::tract_core::ops::cnn::OptMaxPool;
use tract_hir::tract_core::ops::nn::DataFormat;

/// Swaps every qualifying `OptMaxPool` of an optimised model for `MaxPool2x2`; returns
/// how many. The others keep tract's op.
pub(super) fn replace_2x2_stride_2(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in 0..model.nodes.len() {
        let Some(pool) = model.nodes[id].op_as::<OptMaxPool>() else {
            continue;
        };
        let input = model.outlet_fact(model.nodes[id].inputs[0])?;
        if qualifies(pool, input) {
            let op = MaxPool2x2 {
                tract: pool.clone(),
            };
            model.nodes[id].op = Box::new(op);
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// A 2×2 stride-2 pool over f32 with channels before height and width, no dilation and
/// no padding before: output (y, x) is the window at (2y, 2x), whatever is left over on
/// the bottom and right is dropped, as tract drops it.
fn qualifies(pool: &OptMaxPool, input: &TypedFact) -> bool {
    let spec = &pool.pool_spec;
    let Some(shape) = input.shape.as_concrete() else {
        return false;
    };
    let hw = &shape[shape.len().saturating_sub(2)..];
    pool.with_index_outputs.is_none()
        && input.datum_type == f32::datum_type()
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && hw.len() == 2
        && *spec.kernel_shape == [2, 2]
        && *spec.strides() == [2, 2]
        && *spec.dilations() == [1, 1]
        && spec
            .computed_padding(hw)
            .iter()
            .zip(hw)
            .all(|(d, &n)| d.pad_before == 0 && d.convoluted == n / 2)
}

/// tract's `OptMaxPool` for one of the pools `qualifies` accepts, run row by row. Keeps
/// tract's op for its output facts, and for an input it was not built for.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MaxPool2x2 {
    tract: OptMaxPool,
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let natural = input.strides() == &*Tensor::natural_strides(shape);
        if shape.len() < 2 || input.datum_type() != f32::datum_type() || !natural {
            return self.tract.eval(ctx, tvec!(input));
        }
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let (oh, ow) = (h / 2, w / 2);
        let mut output_shape = shape.to_vec();
        output_shape[shape.len() - 2] = oh;
        output_shape[shape.len() - 1] = ow;
        // Written in place: a tensor from an `ArrayD` is a copy (`Tensor::from_datum`).
        let mut tensor = Tensor::zero::<f32>(&output_shape)?;
        if oh * ow > 0 {
            let input = input.view();
            let input = input.as_slice::<f32>()?;
            let mut output = tensor.try_as_plain_ram_mut()?;
            let output = output.as_slice_mut::<f32>()?;
            for (plane, out) in input
                .chunks_exact(h * w)
                .zip(output.chunks_exact_mut(oh * ow))
            {
                for (y, out) in out.chunks_exact_mut(ow).enumerate() {
                    let top = &plane[2 * y * w..][..w];
                    let bottom = &plane[(2 * y + 1) * w..][..w];
                    max_2x2_row(out, top, bottom);
                }
            }
        }
        Ok(tvec!(tensor.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.tract.output_facts(inputs)
    }

    as_op!();
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use livecheck_wasm_kernels::max_2x2_row;

/// `out[x]`: the largest of `top[2x]`, `top[2x + 1]`, `bottom[2x]` and `bottom[2x + 1]`,
/// folded in that order from `f32::MIN` with `f32::max` (a NaN never wins).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn max_2x2_row(out: &mut [f32], top: &[f32], bottom: &[f32]) {
    for ((o, t), b) in out
        .iter_mut()
        .zip(top.chunks_exact(2))
        .zip(bottom.chunks_exact(2))
    {
        *o = f32::MIN.max(t[0]).max(t[1]).max(b[0]).max(b[1]);
    }
}

#[cfg(test)]
mod tests {
    use tract_hir::tract_core::ops::cnn::{MaxPool, PaddingSpec, PoolSpec};

    use super::*;

    /// One max pool as tract optimises it, with and without the replacement.
    fn pool(shape: &[usize], spec: PoolSpec, replace: bool) -> (usize, Tensor) {
        let mut model = TypedModel::default();
        let source = model.add_source("x", f32::fact(shape)).unwrap();
        let out = model
            .wire_node("pool", MaxPool::new(spec, None), &[source])
            .unwrap();
        model.select_output_outlets(&out).unwrap();
        let mut model = model.into_optimized().unwrap();
        let replaced = if replace {
            replace_2x2_stride_2(&mut model).unwrap()
        } else {
            0
        };
        let len: usize = shape.iter().product();
        // Distinct values with NaNs, both zeros and infinities among them.
        let edges = [
            f32::NAN,
            -0.0,
            0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN,
        ];
        let values: Vec<f32> = (0..len)
            .map(|i| match i % 11 {
                k @ 0..=5 if i % 7 == 0 => edges[k],
                _ => ((i * 7919) % 1000) as f32 / 10.0 - 50.0,
            })
            .collect();
        let x = Tensor::from_shape(shape, &values).unwrap();
        let mut out = model.into_runnable().unwrap().run(tvec!(x.into())).unwrap();
        (replaced, out.remove(0).into_tensor())
    }

    fn spec(format: DataFormat, channels: usize, padding: PaddingSpec) -> PoolSpec {
        PoolSpec::new(
            format,
            tvec!(2, 2),
            padding,
            None,
            Some(tvec!(2, 2)),
            channels,
            channels,
        )
    }

    #[test]
    fn gives_tracts_answer_on_even_and_odd_sizes() {
        for (shape, format) in [
            (&[1, 3, 8, 12][..], DataFormat::NCHW),
            (&[2, 3, 7, 9][..], DataFormat::NCHW),
            (&[1, 5, 2, 37][..], DataFormat::NCHW),
            (&[4, 6, 11][..], DataFormat::CHW),
        ] {
            let channels = shape[shape.len() - 3];
            let (replaced, got) = pool(shape, spec(format, channels, PaddingSpec::Valid), true);
            assert_eq!(replaced, 1, "{shape:?}: replaced");
            let (_, want) = pool(shape, spec(format, channels, PaddingSpec::Valid), false);
            assert_eq!(got.shape(), want.shape(), "{shape:?}");
            let (got, want) = (got.view(), want.view());
            let (got, want) = (
                got.as_slice::<f32>().unwrap(),
                want.as_slice::<f32>().unwrap(),
            );
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    g == w || (g.is_nan() && w.is_nan()),
                    "{shape:?} at {i}: {g} against tract's {w}"
                );
            }
        }
    }

    #[test]
    fn leaves_pools_it_was_not_written_for() {
        let same_odd = spec(DataFormat::NCHW, 3, PaddingSpec::SameUpper);
        assert_eq!(pool(&[1, 3, 7, 7], same_odd, true).0, 0, "padded");
        let nhwc = spec(DataFormat::NHWC, 3, PaddingSpec::Valid);
        assert_eq!(pool(&[1, 8, 8, 3], nhwc, true).0, 0, "channels last");
        let mut stride_1 = spec(DataFormat::NCHW, 3, PaddingSpec::Valid);
        stride_1.strides = Some(tvec!(1, 1));
        assert_eq!(pool(&[1, 3, 8, 8], stride_1, true).0, 0, "stride 1");
    }
}
