//! Element-wise binary ops whose constant operand tract leaves to its generic
//! broadcasting code. tract runs `x ∘ c` with a "unicast" kernel when c's axes after its
//! leading 1s match x's and hold more than 32 elements, a multiple of its vector width
//! (`vector_size()`, compared as a count of elements) unless c has x's whole shape;
//! otherwise, when c is not one value per leading block either, generically. In wasm tract
//! lays some per-channel multiplies out channels last: four of Face Mesh V2's PRelus
//! (64×64×16: the slopes repeat every 16 values) and 22 of MiniFASNetV2's (pruned channel
//! counts such as 103 and 231), 0.1–2 ms each under Node. Tiling the constant over x's
//! next axes until tract's rule holds lets it pick the unicast kernel; the values are the
//! same.

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
/// A tiled constant no larger than this (1 MB of f32).
const MAX_TILED: usize = 256 * 1024;

/// The shape a constant of shape `c` takes, over the next axes of `x`, for tract's
/// unicast rule to hold: its repeated block over `SHORT` elements and a multiple of
/// `vector_size()`, or the whole of `x`. `None` when the rule already holds, c is one
/// value, does not line up with `x` past its leading 1s, or would grow past `MAX_TILED`.
fn tiled_shape(c: &[usize], x: &[usize]) -> Option<Vec<usize>> {
    tiled_shape_for(c, x, vector_size())
}

fn tiled_shape_for(c: &[usize], x: &[usize], lanes: usize) -> Option<Vec<usize>> {
    let first = c.iter().position(|&d| d != 1)?;
    if c.len() != x.len() || c[first..] != x[first..] {
        return None;
    }
    let whole = |axis: usize| x[..axis].iter().all(|&d| d == 1);
    let holds =
        |block: usize, axis: usize| block > SHORT && (block.is_multiple_of(lanes) || whole(axis));
    let mut block: usize = c[first..].iter().product();
    if holds(block, first) {
        return None;
    }
    let mut shape = c.to_vec();
    let mut axis = first;
    while !holds(block, axis) && !whole(axis) {
        axis -= 1;
        shape[axis] = x[axis];
        block *= x[axis];
    }
    (holds(block, axis) && block <= MAX_TILED).then_some(shape)
}

#[cfg(test)]
mod tests {
    use tract_hir::tract_core::ops::math;

    use super::*;

    #[test]
    fn tiles_over_the_next_axes_until_tracts_unicast_rule_holds() {
        let tiled = |c: &[usize], x: &[usize]| tiled_shape_for(c, x, 16);
        assert_eq!(tiled(&[1, 1, 16], &[64, 64, 16]), Some(vec![1, 64, 16]));
        assert_eq!(tiled(&[1, 1, 1, 8], &[1, 2, 3, 8]), Some(vec![1, 2, 3, 8]));
        // 103 channels: only the whole tensor makes a multiple of 16 or one block.
        assert_eq!(tiled(&[1, 1, 103], &[40, 40, 103]), Some(vec![40, 40, 103]));
        assert_eq!(
            tiled(&[1, 1, 10, 26], &[1, 10, 10, 26]),
            Some(vec![1, 10, 10, 26])
        );
        assert_eq!(tiled(&[1, 1, 64], &[8, 8, 64]), None, "tract's rule holds");
        assert_eq!(tiled(&[1, 16, 1, 1], &[1, 16, 8, 8]), None, "per channel");
        assert_eq!(tiled(&[1, 1, 1], &[4, 4, 4]), None, "one value");
        assert_eq!(tiled(&[1, 4], &[1, 4]), None, "already whole");
        assert_eq!(tiled(&[1, 1, 4], &[2, 2, 4]), None, "stays short");
        assert_eq!(tiled(&[1, 1, 103], &[4096, 4096, 103]), None, "too big");
        // What tract checks on x86-64 with AVX: 8 × 32 floats.
        assert_eq!(
            tiled_shape_for(&[1, 1, 48], &[8, 8, 48], 32),
            Some(vec![1, 8, 48])
        );
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
