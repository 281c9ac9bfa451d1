//! Depthwise convolution along the output's contiguous axis, on x86_64 with AVX,
//! registered above tract's own kernel for that routine.
//!
//! Why: tract-linalg's x86_64 kernel vectorises stride 1 only and walks any other stride
//! in scalar code (`depthwise::scalar`, 5.5 % of a profile of the verifier's judgement
//! over d18); at stride 1 it keeps one chain of adds in flight and finishes each row in
//! scalar code. At stride 1 this one runs four chains and a masked last step. At stride
//! 2, eight outputs are read as two 8-lane loads and their even lanes picked with two lane
//! permutes and one shuffle (AVX alone); at any other stride (a channels-last layout steps
//! along W by the channel count) eight are gathered (AVX2).
//! The arithmetic is tract's scalar walk's, in its order (the bias, then one multiply and
//! one add per tap, no FMA), so every output is bit for bit what tract computes.
//!
//! Measured (`scripts/stage-timing.sh`, three alternating runs): MiniFASNetV2 3.4–3.7 →
//! 2.7–3.0 ms, V1SE 3.7–3.8 → 2.9–3.0 ms. Stride 1 (`op_profile`, three alternating
//! runs, depthwise ops' time a run): YuNet 1.85–1.88 → 1.36–1.37 ms, Face Mesh V2
//! 1.46–1.47 → 1.04–1.06 ms.

use std::arch::x86_64::*;

use tract_hir::internal::{inventory, Tensor};
use tract_hir::tract_core::tract_linalg;
use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};

pub const NAME: &str = "livecheck_x86_64_avx_depthwise_w_f32";

/// tract-linalg's `DepthwiseWF32` contract: `len` outputs, each the bias plus every
/// `taps[t] * input[offsets[t] + i * in_stride]`.
///
/// # Safety
/// `input.offset(offsets[t] + i * in_stride)` must be readable for every tap and every
/// `i` below `len`, `len` outputs writable from `output`, and the CPU must have AVX
/// (the registration requires it).
unsafe fn depthwise_w_f32(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
    in_stride: isize,
) {
    // SAFETY: the caller's contract is each walk's, and AVX is present.
    unsafe {
        match in_stride {
            1 => contiguous::<false>(input, output, taps, offsets, bias, len),
            2 => stride_two(input, output, taps, offsets, bias, len),
            _ if in_stride > 0
                && in_stride <= i32::MAX as isize / 8
                && std::arch::is_x86_feature_detected!("avx2") =>
            {
                gathered(input, output, taps, offsets, bias, len, in_stride)
            }
            _ => scalar(input, output, taps, offsets, bias, 0, len, in_stride),
        }
    }
}

/// Stride 1: 32 outputs a step while they last, as four independent 8-lane sums, then
/// eight a step, then the last few in one masked step. Each output's sum is one chain of
/// dependent adds (the arithmetic must be tract's, so no FMA and no reassociation); four
/// chains in flight keep the adder busy where one left it waiting on its own latency. The
/// masked step replaces a scalar tail that took a third of this kernel's time on YuNet's
/// 158-wide rows (and its one-wide border columns). With `RELU`, each sum goes out as
/// `max(sum, 0)`, as the ReLU after it would write it.
#[target_feature(enable = "avx")]
unsafe fn contiguous<const RELU: bool>(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
) {
    let mut i = 0usize;
    while i + 32 <= len {
        let mut acc = [_mm256_set1_ps(bias); 4];
        for (tap, offset) in taps.iter().zip(offsets) {
            let k = _mm256_set1_ps(*tap);
            // SAFETY: points i..i+32 are below `len`, so readable by the contract.
            let p = unsafe { input.offset(*offset).add(i) };
            for (u, a) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_ps(p.add(8 * u)) };
                *a = _mm256_add_ps(*a, _mm256_mul_ps(x, k));
            }
        }
        for (u, a) in acc.iter().enumerate() {
            // SAFETY: outputs i..i+32 are below `len`.
            unsafe { _mm256_storeu_ps(output.add(i + 8 * u), relu::<RELU>(*a)) };
        }
        i += 32;
    }
    while i + 8 <= len {
        let mut acc = _mm256_set1_ps(bias);
        for (tap, offset) in taps.iter().zip(offsets) {
            // SAFETY: points i..i+8 are below `len`, so readable by the contract.
            let x = unsafe { _mm256_loadu_ps(input.offset(*offset).add(i)) };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_set1_ps(*tap)));
        }
        // SAFETY: outputs i..i+8 are below `len`.
        unsafe { _mm256_storeu_ps(output.add(i), relu::<RELU>(acc)) };
        i += 8;
    }
    if i < len {
        // Lanes below the rest: masked loads neither read nor fault past them. The sums
        // go out through a buffer (a masked store is slow on AMD's cores).
        let rest = (len - i) as i32;
        let mask = _mm256_cmpgt_epi32_avx(
            _mm256_set1_epi32(rest),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        let mut acc = _mm256_set1_ps(bias);
        for (tap, offset) in taps.iter().zip(offsets) {
            // SAFETY: the lanes read are points i..len, readable by the contract.
            let x = unsafe { _mm256_maskload_ps(input.offset(*offset).add(i), mask) };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_set1_ps(*tap)));
        }
        let mut sums = [0f32; 8];
        // SAFETY: `sums` holds eight floats; outputs i..len are writable by the contract.
        unsafe {
            _mm256_storeu_ps(sums.as_mut_ptr(), relu::<RELU>(acc));
            std::ptr::copy_nonoverlapping(sums.as_ptr(), output.add(i), rest as usize);
        }
    }
}

/// A depthwise convolution at stride 1 over `channels` planes of `height` rows of
/// `width` points (`x`, channels first), each plane padded with zeros by `pads` and
/// convolved with its own taps: each output is its channel's bias plus each tap times its
/// point, in the taps' order, one multiply and one add each. That is tract's walk, except
/// that taps over the padding are added as zero products where tract skips them, which
/// changes a sum only when it is zero (its sign).
#[derive(Clone, Copy)]
pub struct Depthwise<'a> {
    pub x: &'a [f32],
    pub channels: usize,
    /// Height and width of each plane.
    pub plane: [usize; 2],
    /// Zeros above, below, left and right of each plane.
    pub pads: [usize; 4],
    /// Each channel's `kh` × `kw` taps, row-major, plane after plane.
    pub taps: &'a [f32],
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// One value per channel.
    pub bias: &'a [f32],
    /// Whether each output goes out as `max(output, 0)`, the ReLU that follows the
    /// convolution in YuNet.
    pub relu: bool,
}

/// The convolution into a new tensor of `shape` (the output's planes, channels first).
/// Every row, the borders' too, goes through the vector walk, where tract's zones walk the
/// borders one output at a time. `None` when the lengths do not agree or the CPU lacks
/// AVX.
pub fn depthwise_padded_tensor(d: &Depthwise, shape: &[usize]) -> Option<Tensor> {
    let Depthwise {
        x,
        channels,
        plane: [height, width],
        pads: [top, bottom, left, right],
        taps,
        kernel: [kh, kw],
        bias,
        relu,
    } = *d;
    let rows = height.checked_add(top)?.checked_add(bottom)?;
    let cols = width.checked_add(left)?.checked_add(right)?;
    let (out_h, out_w) = ((rows + 1).checked_sub(kh)?, (cols + 1).checked_sub(kw)?);
    let agree = kh > 0
        && kw > 0
        && out_h > 0
        && out_w > 0
        && x.len() == channels.checked_mul(height)?.checked_mul(width)?
        && taps.len() == channels.checked_mul(kh.checked_mul(kw)?)?
        && bias.len() == channels
        && shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d))
            == Some(channels.checked_mul(out_h)?.checked_mul(out_w)?)
        && rows.checked_mul(cols)? < isize::MAX as usize / 4
        && std::is_x86_feature_detected!("avx");
    if !agree {
        return None;
    }
    let offsets: Vec<isize> = (0..kh * kw)
        .map(|t| ((t / kw) * cols + t % kw) as isize)
        .collect();
    // The padding stays zero: each plane writes the inside only.
    let mut plane = vec![0f32; rows * cols];
    // SAFETY: a plain f32 tensor of channels · out_h · out_w values (checked); every row
    // of every plane is written below before anything reads it.
    let mut t = unsafe { Tensor::uninitialized::<f32>(shape).ok()? };
    // SAFETY: as above; the pointer is used only while `t` lives, and only here.
    let out = unsafe { t.as_ptr_mut_unchecked::<f32>() };
    for c in 0..channels {
        for y in 0..height {
            let from = &x[(c * height + y) * width..][..width];
            plane[(top + y) * cols + left..][..width].copy_from_slice(from);
        }
        let taps = &taps[c * kh * kw..][..kh * kw];
        for y in 0..out_h {
            // SAFETY: output row y of plane c starts at (c · out_h + y) · out_w, and its
            // out_w outputs lie inside the tensor; tap t of output i reads plane row
            // y + t / kw, column i + t % kw < cols, inside `plane`; AVX is present.
            unsafe {
                let (from, to) = (
                    plane.as_ptr().add(y * cols),
                    out.add((c * out_h + y) * out_w),
                );
                if relu {
                    contiguous::<true>(from, to, taps, &offsets, bias[c], out_w)
                } else {
                    contiguous::<false>(from, to, taps, &offsets, bias[c], out_w)
                }
            };
        }
    }
    Some(t)
}

/// `max(sums, 0)` with `RELU`, else the sums.
#[target_feature(enable = "avx")]
#[inline]
fn relu<const RELU: bool>(sums: __m256) -> __m256 {
    if RELU {
        _mm256_max_ps(sums, _mm256_setzero_ps())
    } else {
        sums
    }
}

/// `rest > lane` for each lane, in AVX alone (the integer compare is AVX2's): as floats,
/// which hold these small integers exactly.
#[target_feature(enable = "avx")]
fn _mm256_cmpgt_epi32_avx(rest: __m256i, lanes: __m256i) -> __m256i {
    _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(
        _mm256_cvtepi32_ps(rest),
        _mm256_cvtepi32_ps(lanes),
    ))
}

/// Stride 2: the eight inputs of eight outputs are the even lanes of 16 floats from the
/// first one. The 16th is one past the last input used, so a step runs only while a
/// ninth output follows it (whose input lies beyond).
#[target_feature(enable = "avx")]
unsafe fn stride_two(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
) {
    let mut i = 0usize;
    while i + 8 < len {
        let mut acc = _mm256_set1_ps(bias);
        for (tap, offset) in taps.iter().zip(offsets) {
            // SAFETY: the 16 floats end at offset + 2i + 15, below offset + 2(i + 8),
            // the input of output i + 8 < len, which the contract makes readable.
            let (a, b) = unsafe {
                let p = input.offset(*offset).add(2 * i);
                (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
            };
            // [a0..a3 | b0..b3] and [a4..a7 | b4..b7]; then the even lanes of each half:
            // [a0 a2 a4 a6 | b0 b2 b4 b6].
            let low = _mm256_permute2f128_ps::<0x20>(a, b);
            let high = _mm256_permute2f128_ps::<0x31>(a, b);
            let x = _mm256_shuffle_ps::<0b10_00_10_00>(low, high);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_set1_ps(*tap)));
        }
        // SAFETY: outputs i..i+8 are below `len`.
        unsafe { _mm256_storeu_ps(output.add(i), acc) };
        i += 8;
    }
    // SAFETY: the rest is below `len`.
    unsafe { scalar(input, output, taps, offsets, bias, i, len, 2) };
}

/// Any other positive stride (a channels-last layout's, where the step along W is the
/// channel count): eight inputs gathered a step (AVX2).
#[target_feature(enable = "avx,avx2")]
unsafe fn gathered(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
    in_stride: isize,
) {
    let s = in_stride as i32;
    let lanes = _mm256_setr_epi32(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s);
    let mut i = 0usize;
    while i + 8 <= len {
        let mut acc = _mm256_set1_ps(bias);
        for (tap, offset) in taps.iter().zip(offsets) {
            // SAFETY: lane k reads offset + (i + k) · stride with i + k < len, readable
            // by the contract; 7 · stride fits an i32 (checked by the caller).
            let x = unsafe {
                _mm256_i32gather_ps::<4>(input.offset(*offset + i as isize * in_stride), lanes)
            };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_set1_ps(*tap)));
        }
        // SAFETY: outputs i..i+8 are below `len`.
        unsafe { _mm256_storeu_ps(output.add(i), acc) };
        i += 8;
    }
    // SAFETY: the rest is below `len`.
    unsafe { scalar(input, output, taps, offsets, bias, i, len, in_stride) };
}

/// tract's scalar walk, outputs `from..len`.
///
/// # Safety
/// As `depthwise_w_f32`.
#[allow(clippy::too_many_arguments)]
unsafe fn scalar(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    from: usize,
    len: usize,
    in_stride: isize,
) {
    for i in from..len {
        let mut sum = bias;
        for (tap, offset) in taps.iter().zip(offsets) {
            // SAFETY: i < len, so readable by the contract.
            sum += tap * unsafe { *input.offset(*offset + i as isize * in_stride) };
        }
        // SAFETY: i < len.
        unsafe { *output.add(i) = sum };
    }
}

inventory::submit! {
    Routine {
        func: Func::DepthwiseW,
        arch: Some(Arch::X86_64),
        isa: IsaReq::ANY.needing(&[Isa::X86_64Avx]),
        // One step above tract's own AVX kernel for the same routine.
        boost: 1,
        round_trip: false,
        factory: RoutineFactory::DepthwiseWF32 { name: NAME, run: depthwise_w_f32 },
    }
}

/// For `keep_linked`: something of this module to reference.
pub(crate) fn anchor() -> *const () {
    depthwise_w_f32 as *const ()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output bit for bit the scalar walk's, at strides 1, 2, 3, 16 and 64, tap counts of 3×3
    /// and 5×5 kernels, and lengths around the 8-lane steps.
    #[test]
    fn outputs_are_the_scalar_walks_bit_for_bit() {
        if !std::is_x86_feature_detected!("avx") {
            return;
        }
        for stride in [1isize, 2, 3, 16, 64] {
            for taps in [3usize, 9, 25] {
                for len in [1usize, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 71, 161] {
                    let k: Vec<f32> = (0..taps).map(|t| (t as f32 * 0.71).sin() * 1.3).collect();
                    let offsets: Vec<isize> = (0..taps as isize).map(|t| t * 3).collect();
                    // Exactly as long as the contract requires: a read past it would show
                    // under a sanitizer, and the values have many distinct bits.
                    let n = (offsets[taps - 1] + (len as isize - 1) * stride + 1) as usize;
                    let input: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).cos() * 7.9).collect();
                    let mut want = vec![0f32; len];
                    let mut got = vec![f32::NAN; len];
                    // SAFETY: `input` holds every element the contract names; AVX checked.
                    unsafe {
                        scalar(
                            input.as_ptr(),
                            want.as_mut_ptr(),
                            &k,
                            &offsets,
                            0.3,
                            0,
                            len,
                            stride,
                        );
                        depthwise_w_f32(
                            input.as_ptr(),
                            got.as_mut_ptr(),
                            &k,
                            &offsets,
                            0.3,
                            len,
                            stride,
                        );
                    }
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "stride {stride}, {taps} taps, len {len}"
                    );
                }
            }
        }
    }

    /// Every output of the padded walk is tract's border-skipping sum, bit for bit, for
    /// 3×3 and 5×5 kernels, even and uneven pads and widths around the 8-lane steps; and
    /// lengths that disagree give nothing.
    #[test]
    fn padded_planes_are_the_skipping_sums() {
        if !std::is_x86_feature_detected!("avx") {
            return;
        }
        let mut negatives = 0;
        for ([kh, kw], pads) in [
            ([3, 3], [1, 1, 1, 1]),
            ([5, 5], [2, 2, 2, 2]),
            ([3, 3], [0, 1, 0, 1]),
        ] {
            for [h, w] in [[1usize, 1], [4, 7], [9, 9], [10, 10], [6, 33], [3, 40]] {
                let c = 3;
                let x: Vec<f32> = (0..c * h * w)
                    .map(|i| (i as f32 * 0.37).cos() * 7.9)
                    .collect();
                let taps: Vec<f32> = (0..c * kh * kw)
                    .map(|t| (t as f32 * 0.71).sin() * 1.3)
                    .collect();
                let bias = [0.3, -1.7, 2.25];
                let [top, bottom, left, right] = pads;
                let d = Depthwise {
                    x: &x,
                    channels: c,
                    plane: [h, w],
                    pads,
                    taps: &taps,
                    kernel: [kh, kw],
                    bias: &bias,
                    relu: false,
                };
                let (oh, ow) = (h + top + bottom + 1, w + left + right + 1);
                let (oh, ow) = (oh.saturating_sub(kh), ow.saturating_sub(kw));
                if oh == 0 || ow == 0 {
                    // No output: refused.
                    assert!(depthwise_padded_tensor(&d, &[c, 0, 0]).is_none());
                    continue;
                }
                for relu in [false, true] {
                    let d = Depthwise { relu, ..d };
                    let Some(t) = depthwise_padded_tensor(&d, &[c, oh, ow]) else {
                        panic!("{kh}x{kw} {pads:?} {h}x{w}: refused");
                    };
                    let got = t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap();
                    for (ch, (y, xo)) in (0..c).flat_map(|ch| {
                        (0..oh).flat_map(move |y| (0..ow).map(move |xo| (ch, (y, xo))))
                    }) {
                        let mut sum = bias[ch];
                        for t in 0..kh * kw {
                            let (iy, ix) = (
                                (y + t / kw) as isize - top as isize,
                                (xo + t % kw) as isize - left as isize,
                            );
                            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                sum += taps[ch * kh * kw + t]
                                    * x[(ch * h + iy as usize) * w + ix as usize];
                            }
                        }
                        negatives += usize::from(sum < 0.0);
                        if relu {
                            sum = sum.max(0.0);
                        }
                        let at = (ch * oh + y) * ow + xo;
                        assert_eq!(
                            got[at].to_bits(),
                            sum.to_bits(),
                            "{kh}x{kw} {pads:?} {h}x{w} relu {relu} at {ch},{y},{xo}"
                        );
                    }
                }
            }
        }
        assert!(negatives > 100, "the ReLU must have something to do");
        let (x, taps) = (vec![1f32; 2 * 4 * 4], vec![1f32; 2 * 9]);
        let d = Depthwise {
            x: &x,
            channels: 2,
            plane: [4, 4],
            pads: [1, 1, 1, 1],
            taps: &taps,
            kernel: [3, 3],
            bias: &[0.0, 0.0],
            relu: false,
        };
        assert!(depthwise_padded_tensor(&d, &[2, 4, 4]).is_some());
        for bad in [
            Depthwise { x: &x[1..], ..d },
            Depthwise {
                taps: &taps[1..],
                ..d
            },
            Depthwise { bias: &[0.0], ..d },
            Depthwise {
                pads: [usize::MAX, 1, 1, 1],
                ..d
            },
        ] {
            assert!(depthwise_padded_tensor(&bad, &[2, 4, 4]).is_none());
        }
        assert!(depthwise_padded_tensor(&d, &[2, 4, 5]).is_none());
    }

    #[test]
    fn tract_picks_this_kernel() {
        if !std::is_x86_feature_detected!("avx") {
            return;
        }
        let picked = tract_linalg::routines::best_for(
            Func::DepthwiseW,
            tract_hir::prelude::DatumType::F32,
            &tract_linalg::isa::native(),
        );
        assert_eq!(picked.map(|r| r.name()), Some(NAME));
    }
}
