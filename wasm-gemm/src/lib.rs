//! An f32 matrix-multiply kernel for tract on wasm32 SIMD128, registered with tract-linalg
//! above its own wasm kernels. Empty on every other target.
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

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod kernel;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod pool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod unicast;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use kernel::{kernel_for, NAME};
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use pool::max_2x2_row;

/// Keeps the kernels, and with them their start-up registrations with tract, in the linked
/// wasm: wasm-ld drops an object nothing references. Call it before tract picks kernels.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn keep_linked() {
    std::hint::black_box((kernel::anchor(), unicast::anchor()));
}
