//! Four channels of a direct convolution along W at input stride 2, on x86_64 with AVX2
//! and FMA, registered above tract's own kernel for that routine.
//!
//! Why: the first convolution of YuNet, the face mesh, both MiniFASNets and the dlib
//! descriptor is a stride-2 convolution of the three colour planes, which tract runs
//! through `conv_w4`. To gather eight points two elements apart, tract's kernel does two
//! loads, two lane-crossing permutes and one shuffle for every tap of every four channels:
//! six shuffles to eight FMAs, so the shuffle port, not the FMAs, sets its pace. Here one
//! in-lane shuffle picks the even elements of two loads, which leaves the eight points in
//! the order 0 1 4 5 2 3 6 7; the sums are kept in that order through every tap and put
//! back in order once, at the store (one permute for each eight outputs of a channel).
//!
//! The arithmetic is tract's kernel's: the bias, then one FMA per tap in the order of
//! `offsets`; the same points go through vectors and the same last few through tract's
//! scalar walk (it is called for them), so every output is bit for bit what tract computes.
//! Any other stride goes to tract's kernel unchanged.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use tract_hir::internal::inventory;
use tract_hir::tract_core::tract_linalg;
use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{ConvW4F32, Func, Routine, RoutineFactory};

pub const NAME: &str = "livecheck_x86_64_fma_conv_w4_s2_f32";
/// tract's own kernel for the routine, which this one defers to.
const TRACT: &str = "x86_64_fma_conv_w4_f32";

/// tract's kernel, found among the declared routines (both need AVX2 and FMA).
fn tract_kernel() -> ConvW4F32 {
    static KERNEL: OnceLock<ConvW4F32> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        tract_linalg::routines::declared()
            .find_map(|r| match r.factory {
                RoutineFactory::ConvW4F32 { name, run } if name == TRACT => Some(run),
                _ => None,
            })
            // The tract version is pinned; `defers_to_tracts_own_kernel` tests the name.
            .expect("tract-linalg declares its x86_64 conv_w4 kernel")
    })
}

/// tract-linalg's `ConvW4F32` contract: `len` points of four channels, channel `o` written
/// from `output + o * oc_stride`, point `i` the bias plus every
/// `taps[o * n + t] * input[offsets[t] + i * in_stride]`.
///
/// # Safety
/// As the contract: every `input[offsets[t] + i * in_stride]` for `i < len` readable,
/// `taps` four times as long as `offsets`, `len` points writable for each channel, and the
/// CPU has AVX2 and FMA (the registration requires them).
#[allow(clippy::too_many_arguments)]
unsafe fn conv_w4_f32(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: &[f32; 4],
    len: usize,
    in_stride: isize,
    oc_stride: isize,
) {
    let tract = tract_kernel();
    // SAFETY: the caller's contract is each walk's, and AVX2 and FMA are present.
    unsafe {
        if in_stride != 2 || taps.len() != 4 * offsets.len() {
            return tract(
                input, output, taps, offsets, bias, len, in_stride, oc_stride,
            );
        }
        let done = stride_two(input, output, taps, offsets, bias, len, oc_stride);
        // The rest, fewer than nine points: tract's kernel walks them in scalar code, as it
        // does at the end of its own run.
        if done < len {
            tract(
                input.offset(2 * done as isize),
                output.add(done),
                taps,
                offsets,
                bias,
                len - done,
                2,
                oc_stride,
            );
        }
    }
}

/// The even elements of `p[0..16]`, eight points two apart, in the order 0 1 4 5 2 3 6 7.
/// Reads `p[15]`, the element before the ninth point.
///
/// # Safety
/// `p[0..16]` readable; AVX.
#[inline]
#[target_feature(enable = "avx")]
unsafe fn evens(p: *const f32) -> __m256 {
    // SAFETY: as the caller's.
    unsafe { _mm256_shuffle_ps::<0x88>(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))) }
}

/// Stores eight sums kept in the order 0 1 4 5 2 3 6 7 in order.
///
/// # Safety
/// `out[0..8]` writable; AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store(out: *mut f32, acc: __m256) {
    let ordered = _mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(acc));
    // SAFETY: as the caller's.
    unsafe { _mm256_storeu_ps(out, _mm256_castpd_ps(ordered)) }
}

/// The points tract's kernel puts through vectors at stride 2, sixteen then eight at a time,
/// each while a ninth point beyond them exists (its loads reach the element before it).
/// Returns how many points it wrote.
///
/// # Safety
/// As `conv_w4_f32`, with `in_stride` 2.
#[target_feature(enable = "avx2,fma")]
unsafe fn stride_two(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: &[f32; 4],
    len: usize,
    oc_stride: isize,
) -> usize {
    let n = offsets.len();
    let (k0, k1, k2, k3) = (
        &taps[..n],
        &taps[n..2 * n],
        &taps[2 * n..3 * n],
        &taps[3 * n..],
    );
    let b = [
        _mm256_set1_ps(bias[0]),
        _mm256_set1_ps(bias[1]),
        _mm256_set1_ps(bias[2]),
        _mm256_set1_ps(bias[3]),
    ];
    let out = |o: isize, i: usize| output.wrapping_offset(o * oc_stride).wrapping_add(i);
    let mut i = 0usize;
    while i + 8 + 9 <= len {
        let [mut a0, mut a1, mut a2, mut a3] = b;
        let [mut a4, mut a5, mut a6, mut a7] = b;
        for t in 0..n {
            // SAFETY: points i..i+17 are below `len`; the loads end one element before
            // point i+16, so within the contract.
            let (x, y) = unsafe {
                let p = input.offset(offsets[t] + 2 * i as isize);
                (evens(p), evens(p.add(16)))
            };
            let (w0, w1) = (_mm256_set1_ps(k0[t]), _mm256_set1_ps(k1[t]));
            let (w2, w3) = (_mm256_set1_ps(k2[t]), _mm256_set1_ps(k3[t]));
            a0 = _mm256_fmadd_ps(x, w0, a0);
            a1 = _mm256_fmadd_ps(x, w1, a1);
            a2 = _mm256_fmadd_ps(x, w2, a2);
            a3 = _mm256_fmadd_ps(x, w3, a3);
            a4 = _mm256_fmadd_ps(y, w0, a4);
            a5 = _mm256_fmadd_ps(y, w1, a5);
            a6 = _mm256_fmadd_ps(y, w2, a6);
            a7 = _mm256_fmadd_ps(y, w3, a7);
        }
        // SAFETY: points i..i+16 of each channel are below `len`, so writable.
        unsafe {
            store(out(0, i), a0);
            store(out(1, i), a1);
            store(out(2, i), a2);
            store(out(3, i), a3);
            store(out(0, i + 8), a4);
            store(out(1, i + 8), a5);
            store(out(2, i + 8), a6);
            store(out(3, i + 8), a7);
        }
        i += 16;
    }
    while i + 9 <= len {
        let [mut a0, mut a1, mut a2, mut a3] = b;
        for t in 0..n {
            // SAFETY: points i..i+9 are below `len`; the loads end before point i+8.
            let x = unsafe { evens(input.offset(offsets[t] + 2 * i as isize)) };
            a0 = _mm256_fmadd_ps(x, _mm256_set1_ps(k0[t]), a0);
            a1 = _mm256_fmadd_ps(x, _mm256_set1_ps(k1[t]), a1);
            a2 = _mm256_fmadd_ps(x, _mm256_set1_ps(k2[t]), a2);
            a3 = _mm256_fmadd_ps(x, _mm256_set1_ps(k3[t]), a3);
        }
        // SAFETY: points i..i+8 of each channel are below `len`.
        unsafe {
            store(out(0, i), a0);
            store(out(1, i), a1);
            store(out(2, i), a2);
            store(out(3, i), a3);
        }
        i += 8;
    }
    i
}

inventory::submit! {
    Routine {
        func: Func::ConvW4,
        arch: Some(Arch::X86_64),
        isa: IsaReq::ANY.needing(&[Isa::X86_64Avx2, Isa::X86_64Fma]),
        // One step above tract's own kernel for the same routine, which needs the same.
        boost: 1,
        round_trip: false,
        factory: RoutineFactory::ConvW4F32 { name: NAME, run: conv_w4_f32 },
    }
}

/// For `keep_linked`: something of this module to reference.
pub(crate) fn anchor() -> *const () {
    conv_w4_f32 as *const ()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_avx2_fma() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }

    /// Every output bit for bit tract's kernel's, at strides 1, 2 and 3, the tap layouts
    /// of a 3×3 kernel over three planes and a 7×7 over three, and lengths around the
    /// 8- and 16-point steps; nothing written past a run.
    #[test]
    fn outputs_are_tracts_bit_for_bit() {
        if !has_avx2_fma() {
            return;
        }
        const SENTINEL: f32 = -1234.5;
        for stride in [1isize, 2, 3] {
            for (planes, side) in [(3usize, 3usize), (3, 7), (1, 2)] {
                for len in [
                    0usize, 1, 7, 8, 9, 15, 16, 17, 24, 25, 26, 33, 40, 63, 64, 160,
                ] {
                    let row = (len * stride as usize + side) as isize;
                    let plane = row * side as isize;
                    let offsets: Vec<isize> = (0..planes as isize)
                        .flat_map(|c| {
                            (0..side as isize).flat_map(move |y| {
                                (0..side as isize).map(move |x| c * plane + y * row + x)
                            })
                        })
                        .collect();
                    let n = offsets.len();
                    // Exactly as long as the contract requires, so a read past it would
                    // show under a sanitizer; values with many distinct bits.
                    let extent =
                        (offsets[n - 1] + len.saturating_sub(1) as isize * stride + 1) as usize;
                    let input: Vec<f32> =
                        (0..extent).map(|i| (i as f32 * 0.37).cos() * 7.9).collect();
                    let taps: Vec<f32> =
                        (0..4 * n).map(|t| (t as f32 * 0.71).sin() * 1.3).collect();
                    let bias = [0.3, -1.25, 2.0, 0.0];
                    let oc_stride = len + 5;
                    let mut want = vec![SENTINEL; 4 * oc_stride];
                    let mut got = vec![SENTINEL; 4 * oc_stride];
                    // SAFETY: `input` holds every element the contract names, the outputs
                    // every point, and AVX2 and FMA were checked.
                    unsafe {
                        for (out, run) in [(&mut want, tract_kernel()), (&mut got, conv_w4_f32)] {
                            run(
                                input.as_ptr(),
                                out.as_mut_ptr(),
                                &taps,
                                &offsets,
                                &bias,
                                len,
                                stride,
                                oc_stride as isize,
                            );
                        }
                    }
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "stride {stride}, {planes}×{side}×{side} taps, len {len}"
                    );
                    assert!(want[len..oc_stride].iter().all(|&v| v == SENTINEL));
                }
            }
        }
    }

    #[test]
    fn tract_picks_this_kernel_and_it_defers_to_tracts_own() {
        if !has_avx2_fma() {
            return;
        }
        let picked = tract_linalg::routines::best_for(
            Func::ConvW4,
            tract_hir::prelude::DatumType::F32,
            &tract_linalg::isa::native(),
        );
        assert_eq!(picked.map(|r| r.name()), Some(NAME));
        assert!(!std::ptr::fn_addr_eq(
            tract_kernel(),
            conv_w4_f32 as ConvW4F32
        ));
    }
}
