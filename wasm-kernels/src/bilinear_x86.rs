//! Eight bilinear RGB samples of an RGBA frame at once, on x86_64 with AVX2, for core's
//! rotated crops (the face mesh's 256×256 input).
//!
//! Why: under the verifier's load, core's per-sample bilinear lookup (two axis taps with
//! a floor and bounds checks each, four texels, nine lerps) took about a tenth of its CPU.
//! Here the taps, the four texel gathers and the lerps run eight lanes at a time. The
//! arithmetic is core's `Tap::new` and `Frame::sample_tap`, operation for operation (a
//! subtraction, a floor, a subtraction; then `a + (b - a) * f`, no FMA), so every sample
//! is bit for bit core's.

use std::arch::x86_64::*;

/// Samples `rgba` (`width`×`height`, four bytes a pixel, rows without padding) at the
/// eight points `(xs[i], ys[i])`, pixel centres at +0.5; the result is `[r, g, b]`, each
/// eight lanes. `None` when a point's 2×2 neighbourhood is not wholly inside the frame
/// (or a coordinate is not finite), or without AVX2: the caller samples those itself.
pub fn sample8(
    rgba: &[u8],
    width: u32,
    height: u32,
    xs: &[f32; 8],
    ys: &[f32; 8],
) -> Option<[[f32; 8]; 3]> {
    let pixels = width as usize * height as usize;
    // Indices are i32 lanes, and the frame's bounds are compared as f32: both exact below 2^24.
    if rgba.len() != pixels * 4 || pixels >= 1 << 24 || !std::is_x86_feature_detected!("avx2") {
        return None;
    }
    // SAFETY: AVX2 is present; the frame's length matches its size (checked above).
    unsafe { sample8_avx2(rgba, width, height, xs, ys) }
}

#[target_feature(enable = "avx,avx2")]
unsafe fn sample8_avx2(
    rgba: &[u8],
    width: u32,
    height: u32,
    xs: &[f32; 8],
    ys: &[f32; 8],
) -> Option<[[f32; 8]; 3]> {
    let half = _mm256_set1_ps(0.5);
    // SAFETY: both arrays hold eight floats.
    let (x, y) = unsafe { (_mm256_loadu_ps(xs.as_ptr()), _mm256_loadu_ps(ys.as_ptr())) };
    let (cx, cy) = (_mm256_sub_ps(x, half), _mm256_sub_ps(y, half));
    let (x0, y0) = (_mm256_floor_ps(cx), _mm256_floor_ps(cy));
    let (fx, fy) = (_mm256_sub_ps(cx, x0), _mm256_sub_ps(cy, y0));
    // Both neighbours inside: 0 ≤ x0 and x0 + 1 < width, the same for rows. A NaN fails
    // every ordered compare, so it falls back too.
    let inside = |v0: __m256, len: u32| {
        let low = _mm256_cmp_ps::<_CMP_GE_OQ>(v0, _mm256_setzero_ps());
        let high = _mm256_cmp_ps::<_CMP_LT_OQ>(
            _mm256_add_ps(v0, _mm256_set1_ps(1.0)),
            _mm256_set1_ps(len as f32),
        );
        _mm256_movemask_ps(_mm256_and_ps(low, high)) == 0xFF
    };
    if !(inside(x0, width) && inside(y0, height)) {
        return None;
    }
    let w = _mm256_set1_epi32(width as i32);
    let top_left = _mm256_add_epi32(
        _mm256_mullo_epi32(_mm256_cvtps_epi32(y0), w),
        _mm256_cvtps_epi32(x0),
    );
    let one = _mm256_set1_epi32(1);
    let base = rgba.as_ptr() as *const i32;
    // SAFETY: every lane's top-left pixel has its right and lower neighbours inside the
    // frame (checked above), so all four indices are below width × height, and each pixel
    // is four bytes of `rgba`. Gathers need no alignment.
    let (a, b, c, d) = unsafe {
        let bottom_left = _mm256_add_epi32(top_left, w);
        (
            _mm256_i32gather_epi32::<4>(base, top_left),
            _mm256_i32gather_epi32::<4>(base, _mm256_add_epi32(top_left, one)),
            _mm256_i32gather_epi32::<4>(base, bottom_left),
            _mm256_i32gather_epi32::<4>(base, _mm256_add_epi32(bottom_left, one)),
        )
    };
    let byte = _mm256_set1_epi32(0xFF);
    let channel = |t: __m256i, k: i32| -> __m256 {
        _mm256_cvtepi32_ps(_mm256_and_si256(
            _mm256_srlv_epi32(t, _mm256_set1_epi32(8 * k)),
            byte,
        ))
    };
    let lerp =
        |p: __m256, q: __m256, f: __m256| _mm256_add_ps(p, _mm256_mul_ps(_mm256_sub_ps(q, p), f));
    let mut out = [[0f32; 8]; 3];
    for (k, lanes) in out.iter_mut().enumerate() {
        let k = k as i32;
        let top = lerp(channel(a, k), channel(b, k), fx);
        let bottom = lerp(channel(c, k), channel(d, k), fx);
        // SAFETY: `lanes` holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), lerp(top, bottom, fy)) };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Core's scalar sample, as `Tap::new` and `Frame::sample_tap` compute it.
    fn scalar(rgba: &[u8], width: u32, height: u32, x: f32, y: f32) -> [f32; 3] {
        let tap = |coord: f32, len: u32| {
            let c = coord - 0.5;
            let c0 = c.floor();
            let i = c0 as i64;
            let at = |i: i64| (i >= 0 && i < len as i64).then_some(i as usize);
            (at(i), at(i + 1), c - c0)
        };
        let (c0, c1, fx) = tap(x, width);
        let (r0, r1, fy) = tap(y, height);
        let texel = |c: Option<usize>, r: Option<usize>| match (c, r) {
            (Some(c), Some(r)) => {
                let i = (r * width as usize + c) * 4;
                [rgba[i] as f32, rgba[i + 1] as f32, rgba[i + 2] as f32]
            }
            _ => [0.0; 3],
        };
        let (a, b, c, d) = (texel(c0, r0), texel(c1, r0), texel(c0, r1), texel(c1, r1));
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    }

    /// Every lane bit for bit the scalar sample wherever the kernel answers, and it answers
    /// exactly where all eight neighbourhoods are inside the frame.
    #[test]
    fn samples_are_the_scalar_ones_bit_for_bit_and_only_inside() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let (width, height) = (37u32, 23u32);
        let rgba: Vec<u8> = (0..width * height * 4)
            .map(|i| (i * 73 % 253) as u8)
            .collect();
        let (mut answered, mut refused) = (0, 0);
        for step in 0..4000 {
            let t = step as f32;
            // Points along a rotated line, some crossing the edges.
            let xs: [f32; 8] = std::array::from_fn(|i| {
                (t * 0.173).sin() * 21.0 + 18.5 + i as f32 * (t * 0.037).cos() * 1.9
            });
            let ys: [f32; 8] = std::array::from_fn(|i| {
                (t * 0.119).cos() * 13.0 + 11.5 + i as f32 * (t * 0.053).sin() * 1.3
            });
            let all_inside = xs.iter().zip(&ys).all(|(&x, &y)| {
                let (c, r) = ((x - 0.5).floor(), (y - 0.5).floor());
                c >= 0.0 && c + 1.0 < width as f32 && r >= 0.0 && r + 1.0 < height as f32
            });
            match sample8(&rgba, width, height, &xs, &ys) {
                Some(got) => {
                    answered += 1;
                    assert!(all_inside, "answered at {xs:?}, {ys:?}");
                    for i in 0..8 {
                        let want = scalar(&rgba, width, height, xs[i], ys[i]);
                        for k in 0..3 {
                            assert_eq!(
                                got[k][i].to_bits(),
                                want[k].to_bits(),
                                "lane {i} at ({}, {})",
                                xs[i],
                                ys[i]
                            );
                        }
                    }
                }
                None => {
                    refused += 1;
                    assert!(!all_inside, "refused at {xs:?}, {ys:?}");
                }
            }
        }
        assert!(
            answered > 500 && refused > 500,
            "{answered} answered, {refused} refused"
        );
        let nan = [f32::NAN; 8];
        assert!(sample8(&rgba, width, height, &nan, &[5.0; 8]).is_none());
        assert!(sample8(&rgba[4..], width, height, &[5.0; 8], &[5.0; 8]).is_none());
    }
}
