//! An f32 matrix-multiply kernel for tract, registered with tract-linalg above its own wasm
//! kernels.
//!
//! Why: tract's wasm GEMM (8×8) keeps all 16 `v128` accumulators of its tile live through
//! the k loop, with two A and two B vectors and eight lane broadcasts a step: more live
//! vectors than x86-64's 16 SIMD registers, so V8 has to spill inside the loop. This kernel
//! has the same 8×8 tile (the same number of tiles, so the same per-tile cost in tract's
//! driver) but runs the k loop once for each half of four rows: eight accumulators, B's row
//! as two vectors and A read with `v128.load32_splat` (one broadcast load, no shuffle),
//! about a dozen live vectors. Measured under Node 20: Face Mesh's matrix products
//! 19.5–21.4 ms → 15.2–15.7, YuNet's 12.4–12.7 → 9.4–10.2.
//!
//! The other fused operations run once per tile and follow the semantics of tract's own
//! kernels (the tile row-major; `LoadTile` reads its row-major pointer).

use std::arch::wasm32::*;

use tract_hir::internal::inventory;
use tract_hir::prelude::DatumType;
use tract_hir::tract_core::tract_linalg;
use tract_linalg::isa::{Arch, Isa, IsaReq, IsaSet};
use tract_linalg::mmm::{DynKernel, FusedKerSpec, Query, Suitable};
use tract_linalg::mmm_routines::MmmRoutine;
use tract_linalg::mmm_tiers::MmmTier;
use tract_linalg::pack::Packing;
use tract_linalg::MmmDispatch;

const MR: usize = 8;
/// Two vectors a row: four rows of accumulators, B's row and a broadcast of A are then about
/// a dozen live vectors, within x86-64's 16 SIMD registers.
const NR: usize = 8;
/// The kernel's name in tract's dispatch.
pub const NAME: &str = "livecheck_wasm_f32_8x8";

/// Vectors in a row of the tile.
const V: usize = NR / 4;
// `add_mat_mul_4_rows` holds rows of two vectors.
const _: () = assert!(V == 2);
/// One tile, row-major: row r is `acc[V * r..V * (r + 1)]`.
type Tile = [v128; MR * V];

#[inline(always)]
fn each(acc: &mut Tile, f: impl Fn(v128) -> v128) {
    for v in acc.iter_mut() {
        *v = f(*v);
    }
}

/// `acc[r][c] = op(row[r], acc[r][c])`.
#[inline(always)]
fn per_row(acc: &mut Tile, row: [f32; MR], op: impl Fn(v128, v128) -> v128) {
    for (r, x) in row.into_iter().enumerate() {
        let s = f32x4_splat(x);
        for v in &mut acc[V * r..V * (r + 1)] {
            *v = op(s, *v);
        }
    }
}

/// `acc[r][c] = op(col[c], acc[r][c])`.
#[inline(always)]
fn per_col(acc: &mut Tile, col: [v128; V], op: impl Fn(v128, v128) -> v128) {
    for row in acc.chunks_exact_mut(V) {
        for (v, c) in row.iter_mut().zip(col) {
            *v = op(c, *v);
        }
    }
}

#[inline(always)]
fn madd(acc: v128, a: v128, b: v128) -> v128 {
    f32x4_add(acc, f32x4_mul(a, b))
}

/// # Safety
/// `p` points at `MR` readable f32.
#[inline(always)]
unsafe fn rows(p: *const f32) -> [f32; MR] {
    // SAFETY: the caller's promise.
    unsafe { *(p as *const [f32; MR]) }
}

/// # Safety
/// `p` points at `NR` readable f32.
#[inline(always)]
unsafe fn cols(p: *const f32) -> [v128; V] {
    // SAFETY: the caller's promise; `v128_load` needs no alignment.
    std::array::from_fn(|j| unsafe { v128_load(p.add(4 * j) as *const v128) })
}

/// The address of element (r, c) of a tile laid out with these byte strides.
#[inline(always)]
fn element(ptr: *mut u8, row_stride: isize, col_stride: isize, r: usize, c: usize) -> *mut f32 {
    ptr.wrapping_offset(row_stride * r as isize + col_stride * c as isize) as *mut f32
}

/// Adds A·B to four rows of the tile (eight vectors): `a` points at the first of these
/// rows in A's first column (A's columns are MR apart), `b` at B's first row. Out of line,
/// so that the eight accumulators are all its loop holds.
///
/// # Safety
/// A and B hold k columns and rows.
#[inline(never)]
unsafe fn add_mat_mul_4_rows(rows: &mut [v128; 8], a: *const f32, b: *const v128, k: usize) {
    let a = a as *const u32;
    let [mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7] = *rows;
    for i in 0..k {
        // SAFETY: the caller's promise.
        unsafe {
            let a = a.add(MR * i);
            let lo = v128_load(b.add(2 * i));
            let hi = v128_load(b.add(2 * i + 1));
            let s = v128_load32_splat(a);
            c0 = madd(c0, s, lo);
            c1 = madd(c1, s, hi);
            let s = v128_load32_splat(a.add(1));
            c2 = madd(c2, s, lo);
            c3 = madd(c3, s, hi);
            let s = v128_load32_splat(a.add(2));
            c4 = madd(c4, s, lo);
            c5 = madd(c5, s, hi);
            let s = v128_load32_splat(a.add(3));
            c6 = madd(c6, s, lo);
            c7 = madd(c7, s, hi);
        }
    }
    *rows = [c0, c1, c2, c3, c4, c5, c6, c7];
}

/// The kernel tract calls with a list of fused operations ending in `Done`.
///
/// # Safety
/// `spec` is a list tract-linalg built for a kernel of this tile and packing: every pointer
/// in it covers what its operation reads or writes for one `MR`×`NR` tile.
unsafe fn kernel(spec: &[FusedKerSpec<f32>]) -> isize {
    let mut acc: Tile = [f32x4_splat(0.0); MR * V];
    for op in spec {
        match *op {
            FusedKerSpec::Done => break,
            FusedKerSpec::Clear => each(&mut acc, |_| f32x4_splat(0.0)),
            FusedKerSpec::LoadTile(_cols, tile) => {
                // SAFETY: `tile` holds one whole tile, row-major (tract's contract);
                // `v128_load` needs no alignment.
                acc = std::array::from_fn(|i| unsafe { v128_load((tile as *const v128).add(i)) });
            }
            FusedKerSpec::ScalarMin(a) => each(&mut acc, |v| f32x4_min(f32x4_splat(a), v)),
            FusedKerSpec::ScalarMax(a) => each(&mut acc, |v| f32x4_max(f32x4_splat(a), v)),
            FusedKerSpec::ScalarAdd(a) => each(&mut acc, |v| f32x4_add(f32x4_splat(a), v)),
            FusedKerSpec::ScalarMul(a) => each(&mut acc, |v| f32x4_mul(f32x4_splat(a), v)),
            FusedKerSpec::ScalarSub(a) => each(&mut acc, |v| f32x4_sub(f32x4_splat(a), v)),
            FusedKerSpec::ScalarSubF(a) => each(&mut acc, |v| f32x4_sub(v, f32x4_splat(a))),
            FusedKerSpec::LeakyRelu(a) => each(&mut acc, |v| {
                let positive = f32x4_gt(v, f32x4_splat(0.0));
                v128_bitselect(v, f32x4_mul(f32x4_splat(a), v), positive)
            }),
            FusedKerSpec::PerRowMin(p)
            | FusedKerSpec::PerRowMax(p)
            | FusedKerSpec::PerRowAdd(p)
            | FusedKerSpec::PerRowMul(p)
            | FusedKerSpec::PerRowSub(p)
            | FusedKerSpec::PerRowSubF(p) => {
                // SAFETY: a per-row operand holds one value per row of the tile.
                let row = unsafe { rows(p) };
                match *op {
                    FusedKerSpec::PerRowMin(_) => per_row(&mut acc, row, |s, v| f32x4_min(s, v)),
                    FusedKerSpec::PerRowMax(_) => per_row(&mut acc, row, |s, v| f32x4_max(s, v)),
                    FusedKerSpec::PerRowAdd(_) => per_row(&mut acc, row, |s, v| f32x4_add(s, v)),
                    FusedKerSpec::PerRowMul(_) => per_row(&mut acc, row, |s, v| f32x4_mul(s, v)),
                    FusedKerSpec::PerRowSub(_) => per_row(&mut acc, row, |s, v| f32x4_sub(s, v)),
                    _ => per_row(&mut acc, row, |s, v| f32x4_sub(v, s)),
                }
            }
            FusedKerSpec::PerColMin(p)
            | FusedKerSpec::PerColMax(p)
            | FusedKerSpec::PerColAdd(p)
            | FusedKerSpec::PerColMul(p)
            | FusedKerSpec::PerColSub(p)
            | FusedKerSpec::PerColSubF(p) => {
                // SAFETY: a per-column operand holds one value per column of the tile.
                let col = unsafe { cols(p) };
                match *op {
                    FusedKerSpec::PerColMin(_) => per_col(&mut acc, col, |c, v| f32x4_min(c, v)),
                    FusedKerSpec::PerColMax(_) => per_col(&mut acc, col, |c, v| f32x4_max(c, v)),
                    FusedKerSpec::PerColAdd(_) => per_col(&mut acc, col, |c, v| f32x4_add(c, v)),
                    FusedKerSpec::PerColMul(_) => per_col(&mut acc, col, |c, v| f32x4_mul(c, v)),
                    FusedKerSpec::PerColSub(_) => per_col(&mut acc, col, |c, v| f32x4_sub(c, v)),
                    _ => per_col(&mut acc, col, |c, v| f32x4_sub(v, c)),
                }
            }
            // The quantisation arms, read as tract's f32 kernels read them: a scale.
            FusedKerSpec::QScale(shift, policy, mult) => {
                let scale = tract_linalg::Scaler::from_fuse_params(shift, policy, mult).scale;
                each(&mut acc, |v| f32x4_mul(f32x4_splat(scale), v))
            }
            FusedKerSpec::RoundingShiftRight(shift, _) => {
                let scale = 2f32.powi(-(shift as i32));
                each(&mut acc, |v| f32x4_mul(f32x4_splat(scale), v))
            }
            FusedKerSpec::ShiftLeft(shift) => {
                let scale = 2f32.powi(shift as i32);
                each(&mut acc, |v| f32x4_mul(f32x4_splat(scale), v))
            }
            FusedKerSpec::AddUnicast(tile) => {
                let (rs, cs) = (tile.row_byte_stride, tile.col_byte_stride);
                for (r, row) in acc.chunks_exact_mut(V).enumerate() {
                    let other: [v128; V] = if cs == 4 {
                        // SAFETY: the tile's row r is NR contiguous f32 here.
                        unsafe { cols(element(tile.ptr, rs, cs, r, 0)) }
                    } else {
                        // SAFETY: the tile at `tile.ptr` with these strides covers MR×NR f32.
                        let at = |c| unsafe { *element(tile.ptr, rs, cs, r, c) };
                        std::array::from_fn(|j| {
                            f32x4(at(4 * j), at(4 * j + 1), at(4 * j + 2), at(4 * j + 3))
                        })
                    };
                    for (v, o) in row.iter_mut().zip(other) {
                        *v = f32x4_add(*v, o);
                    }
                }
            }
            FusedKerSpec::AddRowColProducts(r, c) => {
                // SAFETY: `r` holds a value per row and `c` one per column of the tile.
                let (row, col) = unsafe { (rows(r), cols(c)) };
                for (x, acc_row) in row.into_iter().zip(acc.chunks_exact_mut(V)) {
                    let s = f32x4_splat(x);
                    for (v, c) in acc_row.iter_mut().zip(col) {
                        *v = madd(*v, s, c);
                    }
                }
            }
            FusedKerSpec::Store(tile) => {
                let (rs, cs) = (tile.row_byte_stride, tile.col_byte_stride);
                for (r, row) in acc.chunks_exact(V).enumerate() {
                    let at = |c| element(tile.ptr, rs, cs, r, c);
                    if cs == 4 {
                        for (j, v) in row.iter().enumerate() {
                            // SAFETY: the tile's row r is NR contiguous f32 here.
                            unsafe { v128_store(at(4 * j) as *mut v128, *v) };
                        }
                        continue;
                    }
                    let mut values = [0f32; NR];
                    for (j, v) in row.iter().enumerate() {
                        // SAFETY: `values` holds V vectors.
                        unsafe { v128_store(values.as_mut_ptr().add(4 * j) as *mut v128, *v) };
                    }
                    for (c, x) in values.into_iter().enumerate() {
                        // SAFETY: the tile at `tile.ptr` with these strides covers MR×NR f32.
                        unsafe { *at(c) = x };
                    }
                }
            }
            FusedKerSpec::AddMatMul {
                k,
                pa,
                pb,
                packing: _,
            } => {
                // A packed as k columns of MR values, B as k rows of NR values.
                let (a, b) = (pa as *const f32, pb as *const v128);
                for (half, rows) in acc.chunks_exact_mut(4 * V).enumerate() {
                    let rows = rows.try_into().expect("four rows are eight vectors");
                    // SAFETY: the packed panels hold k steps of MR and NR values.
                    unsafe { add_mat_mul_4_rows(rows, a.add(4 * half), b, k) };
                }
            }
        }
    }
    0
}

fn make() -> DynKernel<MR, NR, f32> {
    let mut k = DynKernel::<MR, NR, f32>::new(NAME, kernel, f32::packing(MR), f32::packing(NR));
    k.arch = Some(Arch::Wasm32Simd128);
    k.with_isa(IsaReq::ANY.needing(&[Isa::Wasm32Simd128]))
}

inventory::submit! {
    MmmRoutine { make: || make().mmm() }
}

/// Above tract's own wasm tier (precedence 1): f32 products of more than one column run
/// this kernel; matrix-vector products stay with tract's.
fn preferred(_: &IsaSet, dt: DatumType, query: &Query, _: &[Suitable]) -> Option<&'static str> {
    (dt == DatumType::F32 && query.n != Some(1)).then_some(NAME)
}

inventory::submit! {
    MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        precedence: 2,
        name: "livecheck-wasm-simd128",
        applies: |_| true,
        preferred,
    }
}

/// The kernel tract runs for an f32 product of this shape (m×k by k×n).
pub fn kernel_for(m: usize, k: usize, n: usize) -> Option<String> {
    let query = Query::plain(DatumType::F32, Some(m), Some(k), Some(n));
    MmmDispatch::native()
        .pick(&query)
        .map(|(mmm, _, _)| mmm.name().to_string())
}

/// For `keep_linked`: something of this module to reference.
pub(crate) fn anchor() -> *const () {
    kernel as unsafe fn(&[FusedKerSpec<f32>]) -> isize as *const ()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_linalg::mmm::OutputStoreKer;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// Deterministic values in [-2, 2), none of them round.
    fn values(seed: u32, n: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    /// A store over `buf` with these element strides.
    fn store(buf: &mut [f32], row_stride: usize, col_stride: usize) -> OutputStoreKer {
        OutputStoreKer {
            ptr: buf.as_mut_ptr() as *mut u8,
            row_byte_stride: (4 * row_stride) as isize,
            col_byte_stride: (4 * col_stride) as isize,
            item_size: 4,
        }
    }

    /// Runs `ops` on the tile `c` (row-major), stores the result row-major.
    fn run(c: &[f32], ops: &[FusedKerSpec<f32>]) -> Vec<f32> {
        let mut out = vec![f32::NAN; MR * NR];
        let mut list = vec![FusedKerSpec::LoadTile(std::ptr::null(), c.as_ptr())];
        list.extend_from_slice(ops);
        list.push(FusedKerSpec::Store(store(&mut out, NR, 1)));
        list.push(FusedKerSpec::Done);
        // SAFETY: every pointer in the list covers a whole MR×NR tile, row or column.
        assert_eq!(unsafe { kernel(&list) }, 0);
        out
    }

    fn expect(c: &[f32], f: impl Fn(usize, usize, f32) -> f32) -> Vec<f32> {
        (0..MR * NR).map(|i| f(i / NR, i % NR, c[i])).collect()
    }

    #[wasm_bindgen_test]
    fn a_product_of_packed_panels_is_the_matrix_product() {
        for k in [0, 1, 3, 8, 33] {
            let a = values(1, k * MR); // column i of A is a[MR * i..]
            let b = values(2, k * NR); // row i of B is b[NR * i..]
            let c = values(3, MR * NR);
            let product = |r: usize, col: usize, x: f32| {
                x + (0..k).map(|i| a[MR * i + r] * b[NR * i + col]).sum::<f32>()
            };
            let got = run(
                &c,
                &[FusedKerSpec::AddMatMul {
                    k,
                    pa: a.as_ptr() as *const u8,
                    pb: b.as_ptr() as *const u8,
                    packing: 0,
                }],
            );
            for (g, w) in got.iter().zip(expect(&c, product)) {
                assert!((g - w).abs() < 1e-4, "k = {k}: {g} against {w}");
            }
        }
    }

    #[wasm_bindgen_test]
    fn element_wise_arms_apply_their_operation_to_every_element() {
        let c = values(4, MR * NR);
        type Case = (FusedKerSpec<f32>, fn(f32) -> f32);
        let cases: [Case; 7] = [
            (FusedKerSpec::ScalarMin(0.5), |x| x.min(0.5)),
            (FusedKerSpec::ScalarMax(0.5), |x| x.max(0.5)),
            (FusedKerSpec::ScalarAdd(0.5), |x| x + 0.5),
            (FusedKerSpec::ScalarMul(0.5), |x| x * 0.5),
            (FusedKerSpec::ScalarSub(0.5), |x| 0.5 - x),
            (FusedKerSpec::ScalarSubF(0.5), |x| x - 0.5),
            (FusedKerSpec::LeakyRelu(0.25), |x| {
                if x > 0.0 {
                    x
                } else {
                    0.25 * x
                }
            }),
        ];
        for (op, f) in cases {
            assert_eq!(run(&c, &[op]), expect(&c, |_, _, x| f(x)), "{op:?}");
        }
        assert_eq!(run(&c, &[FusedKerSpec::Clear]), vec![0.0; MR * NR]);
    }

    #[wasm_bindgen_test]
    fn per_row_and_per_column_arms_read_one_value_per_row_or_column() {
        let c = values(5, MR * NR);
        let row = values(6, MR);
        let col = values(7, NR);
        let (r, k) = (row.as_ptr(), col.as_ptr());
        type Case = (FusedKerSpec<f32>, bool, fn(f32, f32) -> f32);
        let cases: [Case; 12] = [
            (FusedKerSpec::PerRowMin(r), true, |s, x| s.min(x)),
            (FusedKerSpec::PerRowMax(r), true, |s, x| s.max(x)),
            (FusedKerSpec::PerRowAdd(r), true, |s, x| s + x),
            (FusedKerSpec::PerRowMul(r), true, |s, x| s * x),
            (FusedKerSpec::PerRowSub(r), true, |s, x| s - x),
            (FusedKerSpec::PerRowSubF(r), true, |s, x| x - s),
            (FusedKerSpec::PerColMin(k), false, |s, x| s.min(x)),
            (FusedKerSpec::PerColMax(k), false, |s, x| s.max(x)),
            (FusedKerSpec::PerColAdd(k), false, |s, x| s + x),
            (FusedKerSpec::PerColMul(k), false, |s, x| s * x),
            (FusedKerSpec::PerColSub(k), false, |s, x| s - x),
            (FusedKerSpec::PerColSubF(k), false, |s, x| x - s),
        ];
        for (op, by_row, f) in cases {
            let want = expect(&c, |i, j, x| f(if by_row { row[i] } else { col[j] }, x));
            assert_eq!(run(&c, &[op]), want, "{op:?}");
        }
        let want = expect(&c, |i, j, x| x + row[i] * col[j]);
        let got = run(&c, &[FusedKerSpec::AddRowColProducts(r, k)]);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} against {w}");
        }
    }

    #[wasm_bindgen_test]
    fn unicast_and_store_follow_any_strides() {
        let c = values(8, MR * NR);
        // Row-major, column-major, and every third column of a wider row-major matrix.
        for (rs, cs) in [(NR, 1), (1, MR), (3 * NR, 3)] {
            let mut d = values(9, MR * NR * 3);
            let want = expect(&c, |i, j, x| x + d[rs * i + cs * j]);
            let got = run(&c, &[FusedKerSpec::AddUnicast(store(&mut d, rs, cs))]);
            assert_eq!(got, want, "strides {rs}, {cs}");

            let mut out = vec![f32::NAN; MR * NR * 3];
            let list = [
                FusedKerSpec::LoadTile(std::ptr::null(), c.as_ptr()),
                FusedKerSpec::Store(store(&mut out, rs, cs)),
                FusedKerSpec::Done,
            ];
            // SAFETY: `c` is a whole tile and `out` covers it with these strides.
            assert_eq!(unsafe { kernel(&list) }, 0);
            for (i, x) in c.iter().enumerate() {
                assert_eq!(out[rs * (i / NR) + cs * (i % NR)], *x, "strides {rs}, {cs}");
            }
            let written = out.iter().filter(|x| !x.is_nan()).count();
            assert_eq!(
                written,
                MR * NR,
                "strides {rs}, {cs}: only the tile is written"
            );
        }
    }

    #[wasm_bindgen_test]
    fn tract_runs_this_kernel_for_matrix_products_but_not_for_matrix_vector_ones() {
        assert_eq!(kernel_for(64, 64, 4096).as_deref(), Some(NAME));
        assert_eq!(kernel_for(10, 27, 25600).as_deref(), Some(NAME));
        assert_ne!(kernel_for(64, 64, 1).as_deref(), Some(NAME));
    }
}
