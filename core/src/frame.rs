//! Frames as core sees them: packed RGBA pixels with checked dimensions, and the
//! bilinear sampling every model crop is built from. Pixels are what the camera
//! delivered, never mirrored: a preview may mirror, the engine does not.

use thiserror::Error;

/// Largest side a frame may have; larger input is refused rather than allocated.
pub const MAX_SIDE: u32 = 8192;
/// Smallest side that can hold a detectable face.
pub const MIN_SIDE: u32 = 32;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error(
        "frame is {width}x{height}; each side must be between {MIN_SIDE} and {MAX_SIDE} pixels"
    )]
    BadSize { width: u32, height: u32 },
    #[error("frame {width}x{height} needs {expected} RGBA bytes, got {actual}")]
    BadLength {
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
}

/// A borrowed RGBA frame (4 bytes a pixel, rows top to bottom, no padding).
#[derive(Clone, Copy)]
pub struct Frame<'a> {
    width: u32,
    height: u32,
    rgba: &'a [u8],
}

impl<'a> Frame<'a> {
    pub fn new(width: u32, height: u32, rgba: &'a [u8]) -> Result<Self, FrameError> {
        if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
            return Err(FrameError::BadSize { width, height });
        }
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected {
            return Err(FrameError::BadLength {
                width,
                height,
                expected,
                actual: rgba.len(),
            });
        }
        Ok(Self {
            width,
            height,
            rgba,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rgba(&self) -> &'a [u8] {
        self.rgba
    }

    /// RGB at integer pixel (x, y); black outside the frame.
    #[inline]
    pub(crate) fn pixel(&self, x: i64, y: i64) -> [f32; 3] {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return [0.0; 3];
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.rgba[i] as f32,
            self.rgba[i + 1] as f32,
            self.rgba[i + 2] as f32,
        ]
    }

    /// Bilinear RGB sample at continuous coordinates (pixel centres at +0.5).
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        self.sample_tap(
            &Tap::col(x, self.width),
            &Tap::row(y, self.width, self.height),
        )
    }

    /// `sample` at eight points at once, bit for bit, where this platform has a vector
    /// kernel for it (x86_64 with AVX2); `None` without one, or when a point's
    /// neighbourhood leaves the frame.
    #[inline]
    pub fn sample8(&self, xs: &[f32; 8], ys: &[f32; 8]) -> Option<[[f32; 8]; 3]> {
        #[cfg(target_arch = "x86_64")]
        {
            livecheck_wasm_kernels::sample8(self.rgba, self.width, self.height, xs, ys)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (xs, ys);
            None
        }
    }

    /// `sample` at each point `(xs[i], ys[i])`, handed to `f(i, rgb)` in order: eight at
    /// a time through `sample8` where it can, one at a time where it cannot, bit for bit
    /// `sample` either way (so sums over the points come out the same too).
    pub fn sample_points(&self, xs: &[f32], ys: &[f32], mut f: impl FnMut(usize, [f32; 3])) {
        let (xs8, ys8) = (xs.chunks_exact(8), ys.chunks_exact(8));
        let whole = 8 * xs8.len().min(ys8.len());
        for (k, (x8, y8)) in xs8.zip(ys8).enumerate() {
            let (Ok(x8), Ok(y8)) = (<&[f32; 8]>::try_from(x8), <&[f32; 8]>::try_from(y8)) else {
                continue; // never: the chunks are exact
            };
            let i = 8 * k;
            match self.sample8(x8, y8) {
                Some([r, g, b]) => (0..8).for_each(|j| f(i + j, [r[j], g[j], b[j]])),
                None => (0..8).for_each(|j| f(i + j, self.sample(x8[j], y8[j]))),
            }
        }
        for (i, (&x, &y)) in xs.iter().zip(ys).enumerate().skip(whole) {
            f(i, self.sample(x, y));
        }
    }

    /// Luma (BT.601) at integer pixel, for quality measures.
    #[inline]
    pub fn luma(&self, x: u32, y: u32) -> f32 {
        let [r, g, b] = self.pixel(x as i64, y as i64);
        0.299 * r + 0.587 * g + 0.114 * b
    }
}

/// An owned RGBA image, as decoded from a file or an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbaImage {
    pub fn frame(&self) -> Result<Frame<'_>, FrameError> {
        Frame::new(self.width, self.height, &self.data)
    }
}

/// Samples a square `size`×`size` crop whose centre is `(cx, cy)`, side `side` source
/// pixels, rotated by `angle` radians (the crop's x axis points along `angle` in the
/// source). Writes channel values through `put(out_x, out_y, rgb)`.
pub fn sample_rotated_square(
    frame: &Frame<'_>,
    cx: f32,
    cy: f32,
    side: f32,
    angle: f32,
    size: usize,
    mut put: impl FnMut(usize, usize, [f32; 3]),
) {
    let (sin, cos) = angle.sin_cos();
    let k = side / size as f32;
    let half = size as f32 / 2.0;
    let (mut xs, mut ys) = (vec![0f32; size], vec![0f32; size]);
    for v in 0..size {
        let dv = v as f32 + 0.5 - half;
        for (u, (x, y)) in xs.iter_mut().zip(&mut ys).enumerate() {
            let du = u as f32 + 0.5 - half;
            *x = cx + k * (cos * du - sin * dv);
            *y = cy + k * (sin * du + cos * dv);
        }
        frame.sample_points(&xs, &ys, |u, rgb| put(u, v, rgb));
    }
}

/// Samples the axis-aligned source rectangle `[x0, x1) × [y0, y1)` into `w`×`h` outputs.
pub fn sample_rect(
    frame: &Frame<'_>,
    (x0, y0, x1, y1): (f32, f32, f32, f32),
    (w, h): (usize, usize),
    mut put: impl FnMut(usize, usize, [f32; 3]),
) {
    let sx = (x1 - x0) / w as f32;
    let sy = (y1 - y0) / h as f32;
    let cols: Vec<Tap> = (0..w)
        .map(|u| Tap::col(x0 + (u as f32 + 0.5) * sx, frame.width))
        .collect();
    for v in 0..h {
        let row = Tap::row(y0 + (v as f32 + 0.5) * sy, frame.width, frame.height);
        for (u, col) in cols.iter().enumerate() {
            put(u, v, frame.sample_tap(col, &row));
        }
    }
}

/// Downscaling resample of the source rectangle `[x0, x1) × [y0, y1)` into `w`×`h`
/// outputs: each output is the mean of taps×taps bilinear samples spread over its
/// footprint (taps = the shrink ratio rounded, 1–4), so large frames do not alias away
/// fine detail. Computed separably, each source row's horizontal interpolations once and
/// then the vertical ones, in the same arithmetic order as `Frame::sample_tap` per tap:
/// the result is bit for bit that of sampling every tap, at a fraction of the cost.
pub fn sample_area(
    frame: &Frame<'_>,
    (x0, y0, x1, y1): (f32, f32, f32, f32),
    (w, h): (usize, usize),
    mut put: impl FnMut(usize, usize, [f32; 3]),
) {
    let (sx, sy) = ((x1 - x0) / w as f32, (y1 - y0) / h as f32);
    let taps = sx.max(sy).round().clamp(1.0, 4.0) as usize;
    let offset = |t: usize| (t as f32 + 0.5) / taps as f32;
    // Column taps by tap, then output column (tap `k` of column `u` at `k * w + u`), and
    // each row's interpolations stored a channel plane at a time in that order: the
    // vertical pass then walks contiguous runs of `w`, which the compiler vectorises.
    let cols: Vec<Tap> = (0..taps)
        .flat_map(|k| (0..w).map(move |u| (u, k)))
        .map(|(u, k)| Tap::col(x0 + (u as f32 + offset(k)) * sx, frame.width))
        .collect();
    let n = cols.len();
    let taps_y = |v: usize| {
        (0..taps)
            .map(move |t| Tap::row(y0 + (v as f32 + offset(t)) * sy, frame.width, frame.height))
    };
    if let Some(boxes) = PixelBoxes::new(&cols, taps, h, &taps_y) {
        return boxes.sum(frame, w, put);
    }
    // Horizontal interpolations of the source rows in use, by byte offset; rows only
    // move down as output rows do, so rows above the current ones are dropped (and their
    // buffers reused).
    let mut rows: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut spare: Vec<Vec<f32>> = Vec::new();
    let mut texels = Vec::new();
    // Rows outside the frame read as black.
    let zeros = vec![0f32; 3 * n];
    let count = (taps * taps) as f32;
    let mut acc = vec![0f32; 3 * w];
    for v in 0..h {
        let taps_y: Vec<Tap> = taps_y(v).collect();
        let lowest = taps_y
            .iter()
            .flat_map(|t| [t.first, t.second])
            .flatten()
            .min();
        for (r, line) in std::mem::take(&mut rows) {
            if lowest.is_some_and(|low| r >= low) {
                rows.push((r, line));
            } else {
                spare.push(line);
            }
        }
        for r in taps_y.iter().flat_map(|t| [t.first, t.second]).flatten() {
            if !rows.iter().any(|(have, _)| *have == r) {
                let mut line = spare.pop().unwrap_or_else(|| vec![0f32; 3 * n]);
                frame.horizontal_taps(r, &cols, &mut texels, &mut line);
                rows.push((r, line));
            }
        }
        let line = |r: Option<usize>| {
            r.and_then(|r| rows.iter().find(|(have, _)| *have == r))
                .map_or(zeros.as_slice(), |(_, line)| line.as_slice())
        };
        acc.fill(0.0);
        // Per output and channel, the same additions in the same order as sampling
        // each tap in turn (rows of taps, then taps along the row).
        for t in &taps_y {
            let (top, bottom, weight) = (line(t.first), line(t.second), t.weight);
            for c in 0..3 {
                let acc = &mut acc[c * w..(c + 1) * w];
                for k in 0..taps {
                    let at = c * n + k * w;
                    let (top, bottom) = (&top[at..at + w], &bottom[at..at + w]);
                    for ((a, t), b) in acc.iter_mut().zip(top).zip(bottom) {
                        *a += t + (b - t) * weight;
                    }
                }
            }
        }
        let (r, rest) = acc.split_at(w);
        let (g, b) = rest.split_at(w);
        for (u, ((r, g), b)) in r.iter().zip(g).zip(b).enumerate() {
            put(u, v, [r / count, g / count, b / count]);
        }
    }
}

/// `sample_area` when every tap lands on a pixel centre inside the frame (a shrink by a
/// whole factor from a whole-pixel origin: the SDK's 640×480 camera frame letterboxed
/// into the detector's 320 is one). Each bilinear sample is then its texel exactly, and
/// every partial sum is a whole number below 2^24, so summing the bytes as integers (rows
/// first, over contiguous bytes; at most 4×4 taps of 255 fit a `u16`) and dividing once
/// gives the float path's result bit for bit: natively in a fifth of its time.
struct PixelBoxes {
    /// Per tap and output column (`k * w + u`), the byte offset of its pixel in a row.
    cols: Vec<usize>,
    /// Per output row, its taps' row byte offsets.
    rows: Vec<usize>,
    taps: usize,
}

impl PixelBoxes {
    fn new<I: Iterator<Item = Tap>>(
        cols: &[Tap],
        taps: usize,
        h: usize,
        taps_y: &impl Fn(usize) -> I,
    ) -> Option<Self> {
        let on_centre = |t: &Tap| if t.weight == 0.0 { t.first } else { None };
        let cols = cols.iter().map(on_centre).collect::<Option<Vec<_>>>()?;
        let rows = (0..h)
            .flat_map(taps_y)
            .map(|t| on_centre(&t))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { cols, rows, taps })
    }

    fn sum(&self, frame: &Frame<'_>, w: usize, mut put: impl FnMut(usize, usize, [f32; 3])) {
        let row_bytes = frame.width as usize * 4;
        let count = (self.taps * self.taps) as f32;
        let mut line = vec![0u16; row_bytes];
        for (v, rows) in self.rows.chunks_exact(self.taps).enumerate() {
            line.fill(0);
            for &r in rows {
                let src = &frame.rgba[r..r + row_bytes];
                for (s, &b) in line.iter_mut().zip(src) {
                    *s += u16::from(b);
                }
            }
            for u in 0..w {
                let mut acc = [0u16; 3];
                for k in 0..self.taps {
                    let at = self.cols[k * w + u];
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += line[at + c];
                    }
                }
                put(u, v, acc.map(|a| f32::from(a) / count));
            }
        }
    }
}

/// One axis of a bilinear lookup, computed once per output row or column: the byte
/// offsets of the two neighbouring source pixels (`None` outside the frame, which reads
/// as black) and the weight of the second. `Frame::sample_tap` with two taps gives
/// exactly `Frame::sample` at that point, without its per-pixel floor and bounds checks.
#[derive(Clone, Copy, Debug)]
pub struct Tap {
    first: Option<usize>,
    second: Option<usize>,
    weight: f32,
}

impl Tap {
    fn new(coord: f32, len: u32, stride: usize) -> Self {
        let c = coord - 0.5;
        let c0 = c.floor();
        let i = c0 as i64;
        let at = |i: i64| (i >= 0 && i < len as i64).then(|| i as usize * stride);
        Self {
            first: at(i),
            second: at(i + 1),
            weight: c - c0,
        }
    }

    /// A column at continuous x (pixel centres at +0.5).
    pub fn col(x: f32, width: u32) -> Self {
        Self::new(x, width, 4)
    }

    /// A row at continuous y.
    pub fn row(y: f32, width: u32, height: u32) -> Self {
        Self::new(y, height, width as usize * 4)
    }
}

impl Frame<'_> {
    #[inline]
    fn texel(&self, col: Option<usize>, row: Option<usize>) -> [f32; 3] {
        match (col, row) {
            (Some(c), Some(r)) => {
                let i = r + c;
                [
                    self.rgba[i] as f32,
                    self.rgba[i + 1] as f32,
                    self.rgba[i + 2] as f32,
                ]
            }
            _ => [0.0; 3],
        }
    }

    /// The horizontal half of `sample_tap` at every column of `cols`, on the source row
    /// at byte offset `row`, into `out` as three channel planes of `cols.len()`. The row
    /// is widened to floats once (exact), so each tap only loads, subtracts, multiplies and
    /// adds; `texels` is scratch space, reused across rows.
    fn horizontal_taps(&self, row: usize, cols: &[Tap], texels: &mut Vec<f32>, out: &mut [f32]) {
        let line = &self.rgba[row..row + self.width as usize * 4];
        // RGBA as floats, with a black texel past each end for taps outside the frame.
        texels.clear();
        texels.extend(line.iter().map(|&v| f32::from(v)));
        texels.extend([0.0; 4]);
        let black = texels.len() - 4;
        let (r, rest) = out.split_at_mut(cols.len());
        let (g, b) = rest.split_at_mut(cols.len());
        for (((col, r), g), b) in cols.iter().zip(r).zip(g).zip(b) {
            let p = &texels[col.first.unwrap_or(black)..][..3];
            let q = &texels[col.second.unwrap_or(black)..][..3];
            *r = p[0] + (q[0] - p[0]) * col.weight;
            *g = p[1] + (q[1] - p[1]) * col.weight;
            *b = p[2] + (q[2] - p[2]) * col.weight;
        }
    }

    /// Bilinear RGB sample at a precomputed column and row (see `Tap`).
    #[inline]
    pub fn sample_tap(&self, col: &Tap, row: &Tap) -> [f32; 3] {
        let (a, b, c, d) = match (col.first, col.second, row.first, row.second) {
            // Inside the frame (nearly every sample): the two texels of each row are
            // adjacent, so two 8-byte reads replace four checked lookups.
            (Some(c0), Some(_), Some(r0), Some(r1)) => {
                let pair = |r: usize| -> [f32; 6] {
                    let p = &self.rgba[r + c0..r + c0 + 8];
                    [p[0], p[1], p[2], p[4], p[5], p[6]].map(f32::from)
                };
                let (top, bottom) = (pair(r0), pair(r1));
                (
                    [top[0], top[1], top[2]],
                    [top[3], top[4], top[5]],
                    [bottom[0], bottom[1], bottom[2]],
                    [bottom[3], bottom[4], bottom[5]],
                )
            }
            _ => (
                self.texel(col.first, row.first),
                self.texel(col.second, row.first),
                self.texel(col.first, row.second),
                self.texel(col.second, row.second),
            ),
        };
        let (fx, fy) = (col.weight, row.weight);
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-frame fast path of `sample_tap` reads the same texels as the general one,
    /// bit for bit, across the frame, its edges and outside it.
    #[test]
    fn in_frame_samples_equal_the_general_lookup_bit_for_bit() {
        let (w, h) = (MIN_SIDE + 3, MIN_SIDE);
        let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 37 % 251) as u8).collect();
        let frame = Frame::new(w, h, &rgba).unwrap();
        for yi in 0..=(h * 3 + 8) {
            for xi in 0..=(w * 3 + 8) {
                let (x, y) = (xi as f32 / 3.0 - 1.3, yi as f32 / 3.0 - 1.1);
                let (col, row) = (Tap::col(x, w), Tap::row(y, w, h));
                let a = frame.texel(col.first, row.first);
                let b = frame.texel(col.second, row.first);
                let c = frame.texel(col.first, row.second);
                let d = frame.texel(col.second, row.second);
                let want: Vec<u32> = (0..3)
                    .map(|k| {
                        let top = a[k] + (b[k] - a[k]) * col.weight;
                        let bottom = c[k] + (d[k] - c[k]) * col.weight;
                        (top + (bottom - top) * row.weight).to_bits()
                    })
                    .collect();
                let got: Vec<u32> = frame.sample(x, y).iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "at ({x}, {y})");
            }
        }
    }

    #[test]
    fn points_sampled_together_equal_each_sampled_alone_bit_for_bit() {
        // Points in the frame, at its edges and outside, in runs that are and are not
        // whole eights, so the vector kernel, its fallback and the tail all run.
        let (w, h) = (MIN_SIDE + 3, MIN_SIDE);
        let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 37 % 251) as u8).collect();
        let frame = Frame::new(w, h, &rgba).unwrap();
        for y in [-0.7, 0.2, 5.3, h as f32 - 0.6, h as f32 + 1.0] {
            let xs: Vec<f32> = (0..3 * w + 5).map(|i| i as f32 / 3.0 - 1.2).collect();
            let ys = vec![y; xs.len()];
            let mut seen = 0;
            frame.sample_points(&xs, &ys, |i, got| {
                assert_eq!(i, seen, "points out of order");
                seen += 1;
                let want = frame.sample(xs[i], ys[i]);
                assert_eq!(
                    got.map(f32::to_bits),
                    want.map(f32::to_bits),
                    "at ({}, {y})",
                    xs[i]
                );
            });
            assert_eq!(seen, xs.len());
        }
    }

    #[test]
    fn bilinear_samples_hit_pixel_centres_blend_between_and_fade_to_black_outside() {
        // Black 32×32 with red, green / blue, white in the top-left 2×2.
        let mut rgba = vec![0u8; 32 * 32 * 4];
        for (x, y, rgb) in [
            (0, 0, [255, 0, 0]),
            (1, 0, [0, 255, 0]),
            (0, 1, [0, 0, 255]),
            (1, 1, [255, 255, 255]),
        ] {
            rgba[(y * 32 + x) * 4..][..3].copy_from_slice(&rgb);
        }
        let f = Frame::new(32, 32, &rgba).unwrap();
        assert_eq!(f.sample(0.5, 0.5), [255.0, 0.0, 0.0]);
        assert_eq!(f.sample(1.5, 1.5), [255.0, 255.0, 255.0]);
        assert_eq!(f.sample(1.0, 0.5), [127.5, 127.5, 0.0]);
        assert_eq!(f.sample(1.0, 1.0), [127.5, 127.5, 127.5]);
        // On the frame's left edge: half the edge pixel, half the black outside.
        assert_eq!(f.sample(0.0, 0.5), [127.5, 0.0, 0.0]);
        assert_eq!(f.sample(-5.0, -5.0), [0.0, 0.0, 0.0]);
    }

    /// `sample_area` the slow way: every tap sampled on its own.
    fn sample_area_per_tap(
        f: &Frame<'_>,
        (x0, y0, x1, y1): (f32, f32, f32, f32),
        (w, h): (usize, usize),
    ) -> Vec<[f32; 3]> {
        let (sx, sy) = ((x1 - x0) / w as f32, (y1 - y0) / h as f32);
        let taps = sx.max(sy).round().clamp(1.0, 4.0) as usize;
        let at = |i: usize, t: usize| i as f32 + (t as f32 + 0.5) / taps as f32;
        let mut out = Vec::new();
        for v in 0..h {
            for u in 0..w {
                let mut acc = [0f32; 3];
                for ty in 0..taps {
                    for tx in 0..taps {
                        let p = f.sample(x0 + at(u, tx) * sx, y0 + at(v, ty) * sy);
                        for c in 0..3 {
                            acc[c] += p[c];
                        }
                    }
                }
                let n = (taps * taps) as f32;
                out.push([acc[0] / n, acc[1] / n, acc[2] / n]);
            }
        }
        out
    }

    #[test]
    fn area_resample_equals_sampling_every_tap_bit_for_bit() {
        let (w, h) = (97u32, 61u32);
        let rgba: Vec<u8> = (0..w * h * 4)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let f = Frame::new(w, h, &rgba).unwrap();
        // Shrinks by 1 to 4.7 taps' worth, a rectangle reaching past the frame (black),
        // and an enlargement (one tap).
        for (rect, size) in [
            ((0.0, 0.0, 97.0, 61.0), (64, 40)),
            ((0.0, 0.0, 97.0, 61.0), (32, 20)),
            ((3.3, 1.7, 90.1, 58.9), (23, 17)),
            ((0.0, 0.0, 97.0, 61.0), (20, 13)),
            ((-10.0, -5.0, 120.0, 70.0), (30, 16)),
            ((10.0, 10.0, 30.0, 30.0), (40, 40)),
            // Whole factors from whole-pixel origins (summed as integers), and one that
            // reaches past the frame (the float path).
            ((0.0, 0.0, 96.0, 60.0), (48, 30)),
            ((1.0, 3.0, 97.0, 60.0), (32, 19)),
            ((0.0, 1.0, 96.0, 61.0), (24, 15)),
            ((2.0, 0.0, 50.0, 48.0), (48, 48)),
            ((-2.0, 0.0, 94.0, 60.0), (48, 30)),
        ] {
            let mut got = Vec::new();
            sample_area(&f, rect, size, |u, v, p| {
                assert_eq!((u, v), (got.len() % size.0, got.len() / size.0));
                got.push(p);
            });
            assert_eq!(
                got,
                sample_area_per_tap(&f, rect, size),
                "{rect:?} → {size:?}"
            );
        }
    }

    #[test]
    fn whole_factor_shrinks_inside_the_frame_are_summed_as_integers() {
        let taps_of = |(x0, y0, x1, y1): (f32, f32, f32, f32), (w, h): (usize, usize)| {
            let (sx, sy) = ((x1 - x0) / w as f32, (y1 - y0) / h as f32);
            let taps = sx.max(sy).round().clamp(1.0, 4.0) as usize;
            let at = move |t: usize| (t as f32 + 0.5) / taps as f32;
            let cols: Vec<Tap> = (0..taps)
                .flat_map(|k| (0..w).map(move |u| Tap::col(x0 + (u as f32 + at(k)) * sx, 640)))
                .collect();
            let rows = move |v: usize| {
                (0..taps).map(move |t| Tap::row(y0 + (v as f32 + at(t)) * sy, 640, 480))
            };
            PixelBoxes::new(&cols, taps, h, &rows).map(|b| b.taps)
        };
        // The SDK's camera frame into the detector's letterbox, and a 1280×720 one's.
        assert_eq!(taps_of((0.0, 0.0, 640.0, 480.0), (320, 240)), Some(2));
        assert_eq!(taps_of((0.0, 0.0, 640.0, 480.0), (160, 120)), Some(4));
        // A fractional factor or origin, or taps past the frame's edge, interpolate.
        assert_eq!(taps_of((0.0, 0.0, 480.0, 480.0), (320, 320)), None);
        assert_eq!(taps_of((0.5, 0.0, 640.5, 480.0), (320, 240)), None);
        assert_eq!(taps_of((0.0, 0.0, 640.0, 482.0), (320, 241)), None);
    }

    #[test]
    fn rejects_zero_and_absurd_sizes() {
        assert!(matches!(
            Frame::new(0, 0, &[]),
            Err(FrameError::BadSize { .. })
        ));
        assert!(matches!(
            Frame::new(100_000, 10, &[]),
            Err(FrameError::BadSize { .. })
        ));
        assert!(matches!(
            Frame::new(u32::MAX, u32::MAX, &[]),
            Err(FrameError::BadSize { .. })
        ));
    }

    #[test]
    fn rejects_wrong_buffer_length() {
        let buf = vec![0u8; 64 * 64 * 4 - 1];
        assert!(matches!(
            Frame::new(64, 64, &buf),
            Err(FrameError::BadLength {
                expected: 16384,
                ..
            })
        ));
    }

    #[test]
    fn bilinear_sample_interpolates_between_pixel_centres() {
        let mut buf = vec![0u8; 32 * 32 * 4];
        for y in 0..32 {
            buf[(y * 32 + 1) * 4] = 200; // column 1 red
        }
        let f = Frame::new(32, 32, &buf).unwrap();
        assert_eq!(f.sample(1.5, 5.5)[0], 200.0);
        assert_eq!(f.sample(1.0, 5.5)[0], 100.0);
        assert_eq!(f.sample(0.5, 5.5)[0], 0.0);
    }
}
