//! Element-wise maximum and minimum of two f32 slices (tract's "unicast" binary ops) on
//! wasm32 SIMD128, registered above tract's generic kernels.
//!
//! Why: tract has no wasm kernel for these, and its generic one calls `f32::max`, whose
//! NaN rule (the other operand wins) no wasm instruction has: `f32x4.max` propagates NaN.
//! LLVM then compares lane by lane in scalar code. Face Mesh's PRelus end in 26 such
//! maxima (see `rewrite_prelu` in core), which took 4.4 ms under Node against 0.17 ms
//! natively. Here `f32x4.pmax` (`a < b ? b : a`) plus one select for a NaN in `a` gives
//! `f32::max`'s answer four lanes at a time.

use std::arch::wasm32::*;

use tract_hir::internal::inventory;
use tract_hir::tract_core::tract_linalg;
use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};
use tract_linalg::unicast::UnicastKer;
use tract_linalg::BinOp;

/// `a[i] = op(a[i], b[i])` over the whole vectors of `a` (its length a multiple of 4, as
/// tract's driver hands whole tiles).
#[inline(always)]
fn zip_vectors(a: &mut [f32], b: &[f32], op: impl Fn(v128, v128) -> v128) {
    debug_assert!(a.len() == b.len() && a.len().is_multiple_of(4));
    for (a, b) in a.chunks_exact_mut(4).zip(b.chunks_exact(4)) {
        let (pa, pb) = (a.as_mut_ptr() as *mut v128, b.as_ptr() as *const v128);
        // SAFETY: both chunks hold four f32; `v128_load`/`v128_store` need no alignment.
        unsafe { v128_store(pa, op(v128_load(pa), v128_load(pb))) };
    }
}

/// `f32::max` lane-wise: `pmax(a, b)` is `a < b ? b : a`, right unless `a` is NaN, and
/// then `b` is the answer.
#[inline(always)]
fn max(a: v128, b: v128) -> v128 {
    v128_bitselect(b, f32x4_pmax(a, b), f32x4_ne(a, a))
}

/// `f32::min` lane-wise, the mirror of `max`: `pmin(a, b)` is `b < a ? b : a`.
#[inline(always)]
fn min(a: v128, b: v128) -> v128 {
    v128_bitselect(b, f32x4_pmin(a, b), f32x4_ne(a, a))
}

#[derive(Copy, Clone, Debug)]
pub struct UnicastMax;

impl UnicastKer<f32> for UnicastMax {
    fn name() -> &'static str {
        "livecheck_wasm_unicast_max_f32"
    }
    fn alignment_items() -> usize {
        4
    }
    fn nr() -> usize {
        16
    }
    fn run(a: &mut [f32], b: &[f32]) {
        zip_vectors(a, b, max)
    }
}

#[derive(Copy, Clone, Debug)]
pub struct UnicastMin;

impl UnicastKer<f32> for UnicastMin {
    fn name() -> &'static str {
        "livecheck_wasm_unicast_min_f32"
    }
    fn alignment_items() -> usize {
        4
    }
    fn nr() -> usize {
        16
    }
    fn run(a: &mut [f32], b: &[f32]) {
        zip_vectors(a, b, min)
    }
}

/// A wasm SIMD128 kernel outranks the generic one in tract's registry whatever its level.
const fn routine(op: BinOp, factory: RoutineFactory) -> Routine {
    Routine {
        func: Func::BinUnicast(op),
        arch: Some(Arch::Wasm32Simd128),
        isa: IsaReq::ANY.needing(&[Isa::Wasm32Simd128]),
        boost: 0,
        round_trip: false,
        factory,
    }
}

inventory::submit! {
    routine(BinOp::Max, RoutineFactory::BinF32 {
        name: <UnicastMax as UnicastKer<f32>>::name,
        make: <UnicastMax as UnicastKer<f32>>::bin,
    })
}

inventory::submit! {
    routine(BinOp::Min, RoutineFactory::BinF32 {
        name: <UnicastMin as UnicastKer<f32>>::name,
        make: <UnicastMin as UnicastKer<f32>>::bin,
    })
}

/// For `keep_linked`: something of this module to reference.
pub(crate) fn anchor() -> *const () {
    <UnicastMax as UnicastKer<f32>>::run as *const ()
}

#[cfg(test)]
mod tests {
    use tract_hir::prelude::{DatumType, Tensor};
    use tract_linalg::BinOp;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// Values with the awkward cases among them: NaN, both zeros, infinities.
    const EDGES: [f32; 9] = [
        f32::NAN,
        -0.0,
        0.0,
        1.5,
        -1.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
        -7.25,
    ];

    /// The same answer as `want`: equal, both NaN, or both zero (`f32::max` leaves the
    /// sign of a zero result unspecified).
    fn same(got: f32, want: f32) -> bool {
        got == want || (got.is_nan() && want.is_nan())
    }

    /// Through tract's registry, as tract's unicast op calls it, on the second row of a
    /// two-row tensor: rows of every length mod 4 start at every offset within a vector and
    /// end mid-tile, so the unaligned head, the aligned middle and the tail all run, and
    /// the first row must come out untouched.
    fn check(op: BinOp, reference: fn(f32, f32) -> f32) {
        let bin = Func::BinUnicast(op).bin(DatumType::F32).expect("a kernel");
        for len in [1usize, 2, 3, 4, 15, 16, 17, 40, 67] {
            let n = 2 * len;
            let a: Vec<f32> = (0..n).map(|i| EDGES[i % 9]).collect();
            let b: Vec<f32> = (0..n).map(|i| EDGES[(i * 5 + 3) % 9]).collect();
            let mut ta = Tensor::from_shape(&[2, len], &a).unwrap();
            let tb = Tensor::from_shape(&[2, len], &b).unwrap();
            let vb = tb.view_at_prefix(&[1]).unwrap();
            bin(&mut ta.view_at_prefix_mut(&[1]).unwrap(), &vb).unwrap();
            let got = ta.view().as_slice::<f32>().unwrap();
            for i in 0..n {
                let want = if i < len { a[i] } else { reference(a[i], b[i]) };
                assert!(
                    same(got[i], want),
                    "{op:?} len {len} at {i}: {} {} gave {}, want {want}",
                    a[i],
                    b[i],
                    got[i]
                );
            }
        }
    }

    #[wasm_bindgen_test]
    fn max_is_f32_max() {
        check(BinOp::Max, f32::max);
    }

    #[wasm_bindgen_test]
    fn min_is_f32_min() {
        check(BinOp::Min, f32::min);
    }

    #[wasm_bindgen_test]
    fn the_registry_picks_these_kernels() {
        let isa = tract_linalg::isa::native();
        for (op, name) in [
            (BinOp::Max, "livecheck_wasm_unicast_max_f32"),
            (BinOp::Min, "livecheck_wasm_unicast_min_f32"),
        ] {
            let routine =
                tract_linalg::routines::best_for(Func::BinUnicast(op), DatumType::F32, &isa)
                    .expect("a routine");
            assert_eq!(routine.name(), name);
        }
    }
}
