//! Element-wise binary ops whose constant operand repeats over too few elements for
//! tract's vector kernels. tract runs `x ∘ c` with a "unicast" kernel when c's axes after
//! its leading 1s match x's and hold more than 32 elements; otherwise (and when c is not
//! one value per leading block either) with its generic broadcasting code. In wasm tract
//! lays four of Face Mesh V2's PRelus out channels last (64×64×16), so their slopes repeat
//! every 16 values and each multiply took 0.6 ms under Node. Tiling the constant over x's
//! next axis (to 64×16) lets tract pick the unicast kernel; the values are the same.

use tract_hir::internal::*;
use tract_hir::tract_core::ops::binary::TypedBinOp;

/// Tiles every such constant of an optimised model and, if there were any, runs tract's
/// code generation again so that it picks its kernels for them. Returns how many.
pub(super) fn widen(model: &mut TypedModel) -> TractResult<usize> {
    let mut widened = 0;
    for id in 0..model.nodes.len() {
        let node = &model.nodes[id];
        if node.op_as::<TypedBinOp>().is_none() || node.inputs.len() != 2 {
            continue;
        }
        let facts: Vec<TypedFact> = model.node_input_facts(id)?.into_iter().cloned().collect();
        let tiled = [(1, 0), (0, 1)].into_iter().find_map(|(slot, other)| {
            let (c, x) = (&facts[slot], &facts[other]);
            let f32_only = c.datum_type == f32::datum_type() && x.datum_type == f32::datum_type();
            let value = c.konst.as_ref().filter(|_| f32_only)?;
            let shape = tiled_shape(value.shape(), x.shape.as_concrete()?)?;
            Some((slot, value.broadcast_to_shape(&shape)))
        });
        if let Some((slot, tiled)) = tiled {
            let name = format!("{}.tiled_{slot}", model.nodes[id].name);
            let wire = model.add_const(name, tiled?)?;
            model.add_edge(wire, InletId::new(id, slot))?;
            widened += 1;
        }
    }
    if widened > 0 {
        model.optimize()?;
    }
    Ok(widened)
}

/// Blocks up to this many elements are what tract leaves to its generic code.
const SHORT: usize = 32;
/// A tiled constant no larger than this (64 kB of f32).
const MAX_TILED: usize = 16 * 1024;

/// The shape a constant of shape `c` takes, over the next axes of `x`, for its repeated
/// block to exceed `SHORT` elements; `None` when it already does, is one value, does not
/// line up with `x` past its leading 1s, or would grow past `MAX_TILED`.
fn tiled_shape(c: &[usize], x: &[usize]) -> Option<Vec<usize>> {
    let first = c.iter().position(|&d| d != 1)?;
    if c.len() != x.len() || c[first..] != x[first..] {
        return None;
    }
    let mut block: usize = c[first..].iter().product();
    if block > SHORT {
        return None;
    }
    let mut shape = c.to_vec();
    let mut axis = first;
    while block <= SHORT && axis > 0 {
        axis -= 1;
        shape[axis] = x[axis];
        block *= x[axis];
    }
    (block > SHORT && block <= MAX_TILED).then_some(shape)
}

#[cfg(test)]
mod tests {
    use tract_hir::tract_core::ops::math;

    use super::*;

    #[test]
    fn tiles_over_the_next_axes_only_what_is_short_and_lines_up() {
        assert_eq!(
            tiled_shape(&[1, 1, 16], &[64, 64, 16]),
            Some(vec![1, 64, 16])
        );
        assert_eq!(
            tiled_shape(&[1, 1, 1, 8], &[1, 2, 3, 8]),
            Some(vec![1, 2, 3, 8])
        );
        assert_eq!(tiled_shape(&[1, 1, 64], &[8, 8, 64]), None, "long enough");
        assert_eq!(
            tiled_shape(&[1, 16, 1, 1], &[1, 16, 8, 8]),
            None,
            "per channel"
        );
        assert_eq!(tiled_shape(&[1, 1, 1], &[4, 4, 4]), None, "one value");
        assert_eq!(tiled_shape(&[1, 1, 4], &[1, 2, 4]), None, "stays short");
        assert_eq!(tiled_shape(&[1, 1, 16], &[4096, 4096, 16]), None, "too big");
    }

    /// A per-channel multiply on a channels-last tensor, as in wasm's Face Mesh: the
    /// constant is tiled, tract then runs a kernel of its own, and the product is the same.
    #[test]
    fn a_channels_last_multiply_leaves_the_generic_op_with_the_same_product() {
        let shape = [8usize, 8, 16];
        let slope: Vec<f32> = (0..16).map(|i| i as f32 * 0.25 - 1.0).collect();
        let x: Vec<f32> = (0..8 * 8 * 16).map(|i| (i % 37) as f32 - 18.0).collect();
        let run = |tile: bool| {
            let mut model = TypedModel::default();
            let source = model.add_source("x", f32::fact(shape)).unwrap();
            let c = model
                .add_const("slope", Tensor::from_shape(&[1, 1, 16], &slope).unwrap())
                .unwrap();
            let out = model.wire_node("mul", math::mul(), &[source, c]).unwrap();
            model.select_output_outlets(&out).unwrap();
            let mut model = model.into_optimized().unwrap();
            let widened = if tile { widen(&mut model).unwrap() } else { 0 };
            let generic = model.nodes.iter().any(|n| n.op_is::<TypedBinOp>());
            let input = Tensor::from_shape(&shape, &x).unwrap();
            let out = model
                .into_runnable()
                .unwrap()
                .run(tvec!(input.into()))
                .unwrap();
            let out = out[0].view().as_slice::<f32>().unwrap().to_vec();
            (widened, generic, out)
        };
        let (_, generic_before, want) = run(false);
        assert!(generic_before, "tract keeps its generic op for this shape");
        let (widened, generic_after, got) = run(true);
        assert_eq!(widened, 1);
        assert!(
            !generic_after,
            "tract picks a kernel once the constant is tiled"
        );
        assert_eq!(got, want);
        let expected: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v * slope[i % 16])
            .collect();
        assert_eq!(got, expected);
    }
}
