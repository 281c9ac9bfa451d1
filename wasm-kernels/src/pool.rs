//! The row of a 2×2, stride-2 max pool on wasm32 SIMD128, for core's `MaxPool2x2`.
//! Eight inputs of each of the two rows make four outputs: a shuffle splits each row's
//! even and odd columns, and `f32x4.pmax` folds the four.

use std::arch::wasm32::*;

/// `out[x]`: the largest of `top[2x]`, `top[2x + 1]`, `bottom[2x]` and `bottom[2x + 1]`,
/// folded in that order from `f32::MIN` as `f32::max` folds them: `pmax(m, v)` is
/// `m < v ? v : m`, so a NaN never wins.
///
/// # Panics
/// If `top` or `bottom` is shorter than twice `out`.
pub fn max_2x2_row(out: &mut [f32], top: &[f32], bottom: &[f32]) {
    assert!(top.len() >= 2 * out.len() && bottom.len() >= 2 * out.len());
    let least = f32x4_splat(f32::MIN);
    let vectors = out.len() / 4;
    let (t, b, o) = (top.as_ptr(), bottom.as_ptr(), out.as_mut_ptr());
    for i in 0..vectors {
        // SAFETY: elements 8i..8i + 8 of both rows and 4i..4i + 4 of `out` are in bounds
        // (i < out.len() / 4 and the lengths asserted); `v128_load`/`v128_store` need no
        // alignment.
        unsafe {
            let load = |p: *const f32, at: usize| v128_load(p.add(at) as *const v128);
            let (t0, t1) = (load(t, 8 * i), load(t, 8 * i + 4));
            let (b0, b1) = (load(b, 8 * i), load(b, 8 * i + 4));
            let mut m = f32x4_pmax(least, i32x4_shuffle::<0, 2, 4, 6>(t0, t1));
            m = f32x4_pmax(m, i32x4_shuffle::<1, 3, 5, 7>(t0, t1));
            m = f32x4_pmax(m, i32x4_shuffle::<0, 2, 4, 6>(b0, b1));
            m = f32x4_pmax(m, i32x4_shuffle::<1, 3, 5, 7>(b0, b1));
            v128_store(o.add(4 * i) as *mut v128, m);
        }
    }
    for x in 4 * vectors..out.len() {
        let window = [top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]];
        out[x] = window.into_iter().fold(f32::MIN, f32::max);
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn each_output_is_the_largest_of_its_window_and_a_nan_never_wins() {
        let edges = [
            f32::NAN,
            -0.0,
            0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            2.5,
            -3.0,
        ];
        for width in [0usize, 1, 3, 4, 5, 8, 9, 17, 33] {
            let row = |seed: usize| -> Vec<f32> {
                (0..2 * width + 1)
                    .map(|i| match (i * seed) % 13 {
                        k @ 0..=6 => edges[k],
                        k => k as f32 * 0.5 - 4.0,
                    })
                    .collect()
            };
            let (top, bottom) = (row(5), row(3));
            let mut out = vec![1234.5; width];
            max_2x2_row(&mut out, &top, &bottom);
            for x in 0..width {
                let window = [top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]];
                let want = window.into_iter().fold(f32::MIN, f32::max);
                assert!(
                    out[x] == want,
                    "width {width} at {x}: {window:?} gave {}, want {want}",
                    out[x]
                );
            }
        }
    }

    #[wasm_bindgen_test]
    #[should_panic]
    fn short_rows_are_refused() {
        max_2x2_row(&mut [0.0; 4], &[0.0; 8], &[0.0; 7]);
    }
}
