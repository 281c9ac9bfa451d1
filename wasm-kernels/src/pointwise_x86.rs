//! The 1×1 convolution of a channels-first map, on x86_64 with AVX2 and FMA, read where
//! the map lies: no packing.
//!
//! Why: tract runs a 1×1 convolution as a matrix product whose right operand, the map, it
//! first packs into panels (`OptMatMulPack`) for a kernel built for long sums. YuNet's and
//! Face Mesh V2's 1×1 convolutions sum over 8 to 128 channels only, across thousands of
//! points: the packing is a pass over the whole map, and each tile's short sum does not
//! pay for its loads and stores. In a channels-first map the points of one channel are
//! already contiguous, so a tile of 24 points loads straight from each channel's row; the
//! rows of one tile (at most 128 × 96 bytes) stay in L1 while every group of output
//! channels is summed over them.
//!
//! The arithmetic is tract's f32 kernels': each output a chain of fused multiply-adds
//! over the channels in order from zero, then the bias added, so
//! every output is bit for bit tract's (core's tests compare whole models).

use std::arch::x86_64::*;

use tract_hir::prelude::Tensor;

/// Points a full tile covers: two vectors.
const WIDE: usize = 16;
/// Output channels a tile sums at once: six rows of two vectors are twelve accumulators;
/// with two loads of the map and a broadcast weight, 15 of x86-64's 16 vector registers.
/// (Four rows of three vectors, all 16, made LLVM spill one accumulator in the loop:
/// 24–28 GMAC/s against 50–56 here.)
const ROWS: usize = 6;
/// Points a block covers: its rows of the map (at most 128 × 256 bytes) stay in L1 while
/// each group of channels walks them. Measured on YuNet's and the mesh's shapes
/// (`time_shapes`): 64 was best of 16 to 1024; 16, a tile at a time, lost a third.
const BLOCK: usize = 64;

/// `out[c·n + p] = Σ_i w[c·k + i] · x[i·n + p] + bias[c]` for every output channel
/// `c` (`w.len() / k` of them) and point `p < n`: the sum over `i` in order as one chain
/// of fused multiply-adds from zero, the bias (when given) added after it. `false`, and
/// nothing written, when the CPU lacks AVX2 or FMA or the lengths do not agree.
pub fn pointwise_conv(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    k: usize,
    n: usize,
    out: &mut [f32],
) -> bool {
    let Some(s) = checked(x, w, bias, k, n) else {
        return false;
    };
    if out.len() != s.m * n {
        return false;
    }
    // SAFETY: AVX2 and FMA are present; x holds k rows of n, w m rows of k, out m rows of
    // n and bias m values (checked), which is what every tile reads and writes.
    unsafe { run(x.as_ptr(), w.as_ptr(), bias, s, out.as_mut_ptr()) };
    true
}

/// As `pointwise_conv`, into a new tensor of `shape` (m · n values), which every tile
/// fills: tract's own products hand on fresh tensors the same way, neither cleared first
/// nor copied after (clearing and copying had taken about 6 % of `evaluate`'s samples).
pub fn pointwise_conv_tensor(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    k: usize,
    n: usize,
    shape: &[usize],
) -> Option<Tensor> {
    let s = checked(x, w, bias, k, n)?;
    if shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) != Some(s.m * n) {
        return None;
    }
    // SAFETY: a plain f32 tensor of m · n values (checked); the tiles write each of them
    // once before anything reads it, and nothing reads it before `run` returns.
    unsafe {
        let mut t = Tensor::uninitialized::<f32>(shape).ok()?;
        let out = t.as_ptr_mut_unchecked::<f32>();
        // SAFETY: as `pointwise_conv`, with out m rows of n (checked above).
        run(x.as_ptr(), w.as_ptr(), bias, s, out);
        Some(t)
    }
}

/// The shape of a product whose lengths agree, where the kernel runs.
fn checked(x: &[f32], w: &[f32], bias: Option<&[f32]>, k: usize, n: usize) -> Option<Shape> {
    if k == 0 || !w.len().is_multiple_of(k) || !available() {
        return None;
    }
    let m = w.len() / k;
    let agree = x.len() == k * n
        && bias.is_none_or(|b| b.len() == m)
        && n < isize::MAX as usize / (4 * k.max(m).max(1));
    agree.then_some(Shape { m, k, n })
}

/// Whether `pointwise_conv` runs here.
pub fn available() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    k: usize,
    n: usize,
}

/// Blocks of points; within one, each group of output channels over every tile of the
/// block.
///
/// # Safety
/// As `pointwise_conv` checks: the lengths, and AVX2 and FMA present.
#[target_feature(enable = "avx,avx2,fma")]
unsafe fn run(x: *const f32, w: *const f32, bias: Option<&[f32]>, s: Shape, out: *mut f32) {
    let mut start = 0;
    while start < s.n {
        let end = s.n.min(start + BLOCK);
        let mut c = 0;
        while c + ROWS <= s.m {
            // SAFETY: channels c..c + ROWS lie below m, points start..end below n.
            unsafe { points::<ROWS>(x, w, bias, s, out, c, start, end) };
            c += ROWS;
        }
        if c + 4 <= s.m {
            // SAFETY: channels c..c + 4 lie below m, points start..end below n.
            unsafe { points::<4>(x, w, bias, s, out, c, start, end) };
            c += 4;
        }
        if c + 2 <= s.m {
            // SAFETY: channels c..c + 2 lie below m, points start..end below n.
            unsafe { points::<2>(x, w, bias, s, out, c, start, end) };
            c += 2;
        }
        if c < s.m {
            // SAFETY: channels c..c + 1 lie below m, points start..end below n.
            unsafe { points::<1>(x, w, bias, s, out, c, start, end) };
        }
        start = end;
    }
}

/// Output channels `c..c + R` over the points `start..end`: tiles of 16 points, then of
/// eight, then the last few as their own code (the mask would take the register a full
/// tile's twelve accumulators need).
///
/// # Safety
/// As `run`, and channels `c..c + R` lie below m, points `start..end` below n.
#[target_feature(enable = "avx,avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn points<const R: usize>(
    x: *const f32,
    w: *const f32,
    bias: Option<&[f32]>,
    s: Shape,
    out: *mut f32,
    c: usize,
    start: usize,
    end: usize,
) {
    let mut p = start;
    while p + WIDE <= end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 2, false>(x, w, bias, s, out, c, p, 8) };
        p += WIDE;
    }
    while p + 8 <= end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 1, false>(x, w, bias, s, out, c, p, 8) };
        p += 8;
    }
    if p < end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 1, true>(x, w, bias, s, out, c, p, end - p) };
    }
}

/// Output channels `c..c + R` at points `p..`: `V` vectors, the last of them `last` lanes
/// (masked loads when fewer than eight, which neither read nor fault past them; the sums
/// then go out through a buffer, a masked store being slow on AMD's cores).
///
/// # Safety
/// As `channels`, and channels `c..c + R` lie below m.
#[target_feature(enable = "avx,avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const V: usize, const MASKED: bool>(
    x: *const f32,
    w: *const f32,
    bias: Option<&[f32]>,
    s: Shape,
    out: *mut f32,
    c: usize,
    p: usize,
    last: usize,
) {
    let masked = MASKED;
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    for i in 0..s.k {
        // SAFETY: row i of x, points p.. (below n, or masked past n).
        let row = unsafe { x.add(i * s.n + p) };
        let mut xs = [_mm256_setzero_ps(); V];
        for (v, xv) in xs.iter_mut().enumerate() {
            // SAFETY: as above.
            *xv = unsafe {
                if masked {
                    _mm256_maskload_ps(row.add(8 * v), mask)
                } else {
                    _mm256_loadu_ps(row.add(8 * v))
                }
            };
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: weight (c + r, i), inside w.
            let wb = unsafe { _mm256_broadcast_ss(&*w.add((c + r) * s.k + i)) };
            for (sum, xv) in sums.iter_mut().zip(&xs) {
                *sum = _mm256_fmadd_ps(wb, *xv, *sum);
            }
        }
    }
    for (r, sums) in acc.iter().enumerate() {
        let b = bias.map(|b| _mm256_set1_ps(b[c + r]));
        for (v, sum) in sums.iter().enumerate() {
            let mut y = *sum;
            if let Some(b) = b {
                y = _mm256_add_ps(y, b);
            }
            // SAFETY: output (c + r, p + 8v ..), inside out; a masked tile writes only
            // its `last` lanes.
            unsafe {
                let to = out.add((c + r) * s.n + p + 8 * v);
                if masked {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), y);
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), to, last);
                } else {
                    _mm256_storeu_ps(to, y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's arithmetic, one output at a time.
    fn reference(x: &[f32], w: &[f32], bias: Option<&[f32]>, k: usize, n: usize) -> Vec<f32> {
        let m = w.len() / k;
        let mut out = vec![0f32; m * n];
        for c in 0..m {
            for p in 0..n {
                let mut s = 0f32;
                for i in 0..k {
                    s = w[c * k + i].mul_add(x[i * n + p], s);
                }
                if let Some(b) = bias {
                    s += b[c];
                }
                out[c * n + p] = s;
            }
        }
        out
    }

    /// Values of every sign and many magnitudes, so a sum in another order rounds
    /// differently somewhere.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                ((state % 20_001) as f32 - 10_000.0) / 997.0
            })
            .collect()
    }

    /// Every output bit for bit the contract's, for channel counts around the groups of
    /// four, point counts around the 24- and 8-point tiles, with and without bias;
    /// nothing written past the outputs.
    #[test]
    fn outputs_are_the_references_bit_for_bit() {
        if !available() {
            return;
        }
        for (m, k) in [(1, 64), (2, 3), (3, 8), (4, 16), (5, 1), (10, 64), (16, 8)] {
            for n in [1, 7, 8, 9, 23, 24, 25, 31, 48, 50, 100] {
                let x = values(k * n, (m * 131 + k * 7 + n) as u32);
                let w = values(m * k, (m + n) as u32);
                let bias = values(m, 5);
                for bias in [None, Some(&bias[..])] {
                    let mut out = vec![f32::NAN; m * n + 3];
                    assert!(pointwise_conv(&x, &w, bias, k, n, &mut out[..m * n]));
                    let want = reference(&x, &w, bias, k, n);
                    for (ix, (a, b)) in out.iter().zip(&want).enumerate() {
                        assert_eq!(a.to_bits(), b.to_bits(), "m {m} k {k} n {n} at {ix}");
                    }
                    assert!(
                        out[m * n..].iter().all(|v| v.is_nan()),
                        "wrote past the end"
                    );
                }
            }
        }
    }

    #[test]
    fn lengths_that_disagree_write_nothing() {
        let x = vec![1f32; 16];
        let w = vec![1f32; 8];
        let mut out = vec![7f32; 8];
        // k 4, n 4: w is two channels, so out must be 8; x must be 16.
        assert!(!pointwise_conv(&x[..15], &w, None, 4, 4, &mut out));
        assert!(!pointwise_conv(&x, &w, Some(&[0.0]), 4, 4, &mut out));
        assert!(!pointwise_conv(&x, &w[..7], None, 4, 4, &mut out));
        assert!(!pointwise_conv(&x, &w, None, 0, 4, &mut out));
        assert!(out.iter().all(|v| *v == 7.0));
    }
}

/// The kernel's rate on YuNet's and Face Mesh V2's shapes (output channels, input
/// channels, points), best of 50 runs: a measurement, not a check, so ignored by default.
/// `cargo test -p livecheck-wasm-kernels --release time_shapes -- --ignored --nocapture`.
#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore]
    fn time_shapes() {
        for (m, k, n) in [
            (16, 16, 25600),
            (64, 32, 6400),
            (64, 64, 1600),
            (32, 16, 4096),
            (16, 8, 16384),
            (128, 64, 256),
        ] {
            let x = vec![0.5f32; k * n];
            let w = vec![0.25f32; m * k];
            let mut out = vec![0f32; m * n];
            let mut best = f64::MAX;
            for _ in 0..50 {
                let t = std::time::Instant::now();
                pointwise_conv(&x, &w, None, k, n, &mut out);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let macs = (m * k * n) as f64;
            eprintln!(
                "m {m} k {k} n {n}: {:.3} ms, {:.1} GMAC/s",
                best * 1e3,
                macs / best / 1e9
            );
        }
    }
}
