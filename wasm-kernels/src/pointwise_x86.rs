//! The 1×1 convolution of a channels-first map, on x86_64 with AVX2 and FMA, read where
//! the map lies: no packing.
//!
//! Why: tract runs a 1×1 convolution as a matrix product whose right operand, the map, it
//! first packs into panels (`OptMatMulPack`) for a kernel built for long sums. YuNet's and
//! Face Mesh V2's 1×1 convolutions sum over 8 to 128 channels only, across thousands of
//! points: the packing is a pass over the whole map, and each tile's short sum does not
//! pay for its loads and stores. In a channels-first map the points of one channel are
//! already contiguous, so a tile of 16 points loads straight from each channel's row; the
//! rows of one block (at most 128 × 256 bytes) stay in L1 while every group of output
//! channels is summed over them.
//!
//! The arithmetic is tract's f32 kernels': each output a chain of fused multiply-adds
//! over the channels in order from zero, then the bias added, so every output is bit for
//! bit tract's (core's tests compare whole models). What the model does next to each
//! value, a residual added and a PReLU, is done here too while the sums are in registers,
//! with the same operations in the same order as tract's separate ops: Face Mesh V2 has
//! such a tail after every 1×1 convolution, and as separate passes over the map they took
//! a fifth of its time.

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

/// One 1×1 convolution: `x` is `k` rows of `n` points, `w` is `m` rows of `k` weights
/// (`m = w.len() / k`), and the output `m` rows of `n` points:
/// `y[c·n + p] = Σ_i w[c·k + i] · x[i·n + p]`, the sum over `i` in order as one chain of
/// fused multiply-adds from zero; then, each when given and in this order, `bias[c]`
/// added, `residual[c·n + p]` added, and the PReLU applied.
#[derive(Clone, Copy)]
pub struct Pointwise<'a> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub k: usize,
    pub n: usize,
    /// `m` values.
    pub bias: Option<&'a [f32]>,
    /// `m · n` values, laid out as the output.
    pub residual: Option<&'a [f32]>,
    pub prelu: Option<Prelu<'a>>,
}

/// A PReLU with `m` per-channel values, in one of the two forms core rewrites ONNX's
/// `PRelu` into (`model::rewrite_prelu`), computed as those forms' ops compute it.
#[derive(Clone, Copy, Debug)]
pub enum Prelu<'a> {
    /// `max(y, y · slope[c])`, for slopes of at most one.
    Max(&'a [f32]),
    /// `y + min(y, 0) · slope_minus_one[c]`, for any slopes.
    Min(&'a [f32]),
}

impl Prelu<'_> {
    fn values(&self) -> &[f32] {
        match self {
            Prelu::Max(v) | Prelu::Min(v) => v,
        }
    }
}

/// The convolution into `out` (`m · n` values). `false`, and nothing written, when the
/// CPU lacks AVX2 or FMA or the lengths do not agree.
pub fn pointwise_conv(p: &Pointwise, out: &mut [f32]) -> bool {
    let Some(s) = checked(p) else {
        return false;
    };
    if out.len() != s.m * p.n {
        return false;
    }
    // SAFETY: AVX2 and FMA are present, and every operand's length agrees with the
    // shape (checked), which is what every tile reads; out is m rows of n (checked).
    unsafe { run(p, s, out.as_mut_ptr()) };
    true
}

/// As `pointwise_conv`, into a new tensor of `shape` (m · n values), which every tile
/// fills: tract's own products hand on fresh tensors the same way, neither cleared first
/// nor copied after (clearing and copying had taken about 6 % of `evaluate`'s samples).
pub fn pointwise_conv_tensor(p: &Pointwise, shape: &[usize]) -> Option<Tensor> {
    let s = checked(p)?;
    if shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) != Some(s.m * p.n) {
        return None;
    }
    // SAFETY: a plain f32 tensor of m · n values (checked); the tiles write each of them
    // once before anything reads it, and nothing reads it before `run` returns.
    unsafe {
        let mut t = Tensor::uninitialized::<f32>(shape).ok()?;
        let out = t.as_ptr_mut_unchecked::<f32>();
        // SAFETY: as `pointwise_conv`, with out m rows of n (checked above).
        run(p, s, out);
        Some(t)
    }
}

/// The shape of a convolution whose lengths agree, where the kernel runs.
fn checked(p: &Pointwise) -> Option<Shape> {
    let (k, n) = (p.k, p.n);
    if k == 0 || !p.w.len().is_multiple_of(k) || !available() {
        return None;
    }
    let m = p.w.len() / k;
    let fits = n < isize::MAX as usize / (4 * k.max(m).max(1));
    let agree = fits
        && p.x.len() == k * n
        && p.bias.is_none_or(|b| b.len() == m)
        && p.residual.is_none_or(|r| r.len() == m * n)
        && p.prelu.is_none_or(|a| a.values().len() == m);
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
unsafe fn run(p: &Pointwise, s: Shape, out: *mut f32) {
    let mut start = 0;
    while start < s.n {
        let end = s.n.min(start + BLOCK);
        let mut c = 0;
        while c + ROWS <= s.m {
            // SAFETY: channels c..c + ROWS lie below m, points start..end below n.
            unsafe { points::<ROWS>(p, s, out, c, start, end) };
            c += ROWS;
        }
        if c + 4 <= s.m {
            // SAFETY: channels c..c + 4 lie below m, points start..end below n.
            unsafe { points::<4>(p, s, out, c, start, end) };
            c += 4;
        }
        if c + 2 <= s.m {
            // SAFETY: channels c..c + 2 lie below m, points start..end below n.
            unsafe { points::<2>(p, s, out, c, start, end) };
            c += 2;
        }
        if c < s.m {
            // SAFETY: channels c..c + 1 lie below m, points start..end below n.
            unsafe { points::<1>(p, s, out, c, start, end) };
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
unsafe fn points<const R: usize>(
    p: &Pointwise,
    s: Shape,
    out: *mut f32,
    c: usize,
    start: usize,
    end: usize,
) {
    let mut at = start;
    while at + WIDE <= end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 2, false>(p, s, out, c, at, 8) };
        at += WIDE;
    }
    while at + 8 <= end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 1, false>(p, s, out, c, at, 8) };
        at += 8;
    }
    if at < end {
        // SAFETY: the tile's points lie below `end`, its channels below m.
        unsafe { tile::<R, 1, true>(p, s, out, c, at, end - at) };
    }
}

/// Output channels `c..c + R` at points `at..`: `V` vectors, the last of them `last`
/// lanes (masked loads when fewer than eight, which neither read nor fault past them; the
/// results then go out through a buffer, a masked store being slow on AMD's cores).
///
/// # Safety
/// As `points`, and the points `at..at + 8(V − 1) + last` lie below n.
#[target_feature(enable = "avx,avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const V: usize, const MASKED: bool>(
    p: &Pointwise,
    s: Shape,
    out: *mut f32,
    c: usize,
    at: usize,
    last: usize,
) {
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let (x, w) = (p.x.as_ptr(), p.w.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    for i in 0..s.k {
        // SAFETY: row i of x, points at.. (below n, or masked past n).
        let row = unsafe { x.add(i * s.n + at) };
        let mut xs = [_mm256_setzero_ps(); V];
        for (v, xv) in xs.iter_mut().enumerate() {
            // SAFETY: as above.
            *xv = unsafe { load::<MASKED>(row.add(8 * v), mask) };
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: weight (c + r, i), inside w.
            let wb = unsafe { _mm256_broadcast_ss(&*w.add((c + r) * s.k + i)) };
            for (sum, xv) in sums.iter_mut().zip(&xs) {
                *sum = _mm256_fmadd_ps(wb, *xv, *sum);
            }
        }
    }
    let zero = _mm256_setzero_ps();
    for (r, sums) in acc.iter().enumerate() {
        let row = (c + r) * s.n + at;
        let b = p.bias.map(|b| _mm256_set1_ps(b[c + r]));
        let prelu = p.prelu.map(|a| (a, _mm256_set1_ps(a.values()[c + r])));
        for (v, sum) in sums.iter().enumerate() {
            let mut y = *sum;
            if let Some(b) = b {
                y = _mm256_add_ps(y, b);
            }
            if let Some(residual) = p.residual {
                // SAFETY: residual (c + r, at + 8v ..), laid out as the output, whose
                // points these are (masked past n).
                y = _mm256_add_ps(y, unsafe {
                    load::<MASKED>(residual.as_ptr().add(row + 8 * v), mask)
                });
            }
            y = match prelu {
                None => y,
                Some((Prelu::Max(_), slope)) => _mm256_max_ps(y, _mm256_mul_ps(y, slope)),
                Some((Prelu::Min(_), t)) => {
                    _mm256_add_ps(y, _mm256_mul_ps(_mm256_min_ps(y, zero), t))
                }
            };
            // SAFETY: output (c + r, at + 8v ..), inside out; a masked tile writes only
            // its `last` lanes.
            unsafe {
                let to = out.add(row + 8 * v);
                if MASKED {
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

/// Eight floats from `from`, or with `MASKED` only the lanes `mask` sets (the others
/// zero, neither read nor faulting).
///
/// # Safety
/// The lanes read must be readable; AVX2 present.
#[target_feature(enable = "avx,avx2")]
#[inline]
unsafe fn load<const MASKED: bool>(from: *const f32, mask: __m256i) -> __m256 {
    // SAFETY: the caller's.
    unsafe {
        if MASKED {
            _mm256_maskload_ps(from, mask)
        } else {
            _mm256_loadu_ps(from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's arithmetic, one output at a time, as tract's separate ops do it.
    fn reference(p: &Pointwise) -> Vec<f32> {
        let (k, n) = (p.k, p.n);
        let m = p.w.len() / k;
        let mut out = vec![0f32; m * n];
        for c in 0..m {
            for at in 0..n {
                let mut y = 0f32;
                for i in 0..k {
                    y = p.w[c * k + i].mul_add(p.x[i * n + at], y);
                }
                if let Some(b) = p.bias {
                    y += b[c];
                }
                if let Some(r) = p.residual {
                    y += r[c * n + at];
                }
                y = match p.prelu {
                    None => y,
                    Some(Prelu::Max(s)) => y.max(y * s[c]),
                    Some(Prelu::Min(t)) => y + y.min(0.0) * t[c],
                };
                out[c * n + at] = y;
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

    /// Every output bit for bit the contract's, for channel counts around the groups,
    /// point counts around the 16- and 8-point tiles, with and without each of the
    /// bias, the residual and both PReLUs; nothing written past the outputs.
    #[test]
    fn outputs_are_the_references_bit_for_bit() {
        if !available() {
            return;
        }
        for (m, k) in [(1, 64), (2, 3), (3, 8), (4, 16), (5, 1), (10, 64), (16, 8)] {
            for n in [1, 7, 8, 9, 15, 16, 17, 31, 48, 50, 100] {
                let x = values(k * n, (m * 131 + k * 7 + n) as u32);
                let w = values(m * k, (m + n) as u32);
                let (bias, residual) = (values(m, 5), values(m * n, 11));
                let slopes: Vec<f32> = values(m, 3).iter().map(|v| v / 10.0).collect();
                let prelus = [None, Some(Prelu::Max(&slopes)), Some(Prelu::Min(&slopes))];
                for (bias, residual, prelu) in [None, Some(&bias[..])]
                    .into_iter()
                    .flat_map(|b| [None, Some(&residual[..])].map(|r| (b, r)))
                    .flat_map(|(b, r)| prelus.map(|a| (b, r, a)))
                {
                    let p = Pointwise {
                        x: &x,
                        w: &w,
                        k,
                        n,
                        bias,
                        residual,
                        prelu,
                    };
                    let mut out = vec![f32::NAN; m * n + 3];
                    assert!(pointwise_conv(&p, &mut out[..m * n]));
                    let want = reference(&p);
                    let case = format!("m {m} k {k} n {n} {bias:?} {residual:?} {prelu:?}");
                    for (ix, (a, b)) in out.iter().zip(&want).enumerate() {
                        assert_eq!(a.to_bits(), b.to_bits(), "{case} at {ix}");
                    }
                    assert!(
                        out[m * n..].iter().all(|v| v.is_nan()),
                        "{case}: past the end"
                    );
                }
            }
        }
    }

    /// Each PReLU changes negative values only, each by its own rule.
    #[test]
    fn prelus_scale_the_negatives() {
        if !available() {
            return;
        }
        let x = [-2.0, 3.0];
        let run = |prelu| {
            let p = Pointwise {
                x: &x,
                w: &[1.0],
                k: 1,
                n: 2,
                bias: None,
                residual: None,
                prelu: Some(prelu),
            };
            let mut out = [0f32; 2];
            assert!(pointwise_conv(&p, &mut out));
            out
        };
        assert_eq!(run(Prelu::Max(&[0.25])), [-0.5, 3.0]);
        assert_eq!(run(Prelu::Min(&[-0.75])), [-0.5, 3.0]);
    }

    #[test]
    fn lengths_that_disagree_write_nothing() {
        let x = vec![1f32; 16];
        let w = vec![1f32; 8];
        // k 4, n 4: w is two channels, so out must be 8, x 16, a residual 8.
        let p = Pointwise {
            x: &x,
            w: &w,
            k: 4,
            n: 4,
            bias: None,
            residual: None,
            prelu: None,
        };
        let residual = [0f32; 7];
        for bad in [
            Pointwise { x: &x[..15], ..p },
            Pointwise {
                bias: Some(&[0.0]),
                ..p
            },
            Pointwise { w: &w[..7], ..p },
            Pointwise { k: 0, ..p },
            Pointwise {
                residual: Some(&residual),
                ..p
            },
            Pointwise {
                prelu: Some(Prelu::Min(&[0.0])),
                ..p
            },
        ] {
            let mut out = vec![7f32; 8];
            assert!(!pointwise_conv(&bad, &mut out));
            assert!(out.iter().all(|v| *v == 7.0));
        }
        let mut short = vec![7f32; 7];
        assert!(!pointwise_conv(&p, &mut short));
        assert!(pointwise_conv(&p, &mut [0f32; 8]) || !available());
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
            let p = Pointwise {
                x: &x,
                w: &w,
                k,
                n,
                bias: None,
                residual: None,
                prelu: None,
            };
            let mut out = vec![0f32; m * n];
            let mut best = f64::MAX;
            for _ in 0..50 {
                let t = std::time::Instant::now();
                pointwise_conv(&p, &mut out);
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
