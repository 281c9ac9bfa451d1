//! Clears the upper halves of the vector registers after tract's assembly kernels.
//!
//! Why: tract-linalg's x86_64 matrix kernels (`fma_mmm_*`, `avx512_mmm_*`, one shared
//! postamble) return without `vzeroupper`, so the upper halves of the YMM/ZMM registers
//! stay dirty after a model runs. Until they are cleared, every legacy-SSE instruction
//! (all scalar `f32` code of a default x86-64 build: core's resampling, decoding of model
//! outputs, quality measures) pays for merging into the dirty registers. Measured on the
//! project's 2-core AMD EPYC VM: the detector's 480→320 letterbox took 1.25 ms on its own
//! and 4.03 ms right after a detector run; clearing after each run brought it back.

/// Marks the upper register halves clean; a no-op where AVX is absent (then no kernel
/// can have dirtied them). Call it after each tract run.
pub fn clear_upper_state() {
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present, checked above.
        unsafe { zero_upper() }
    }
}

#[target_feature(enable = "avx")]
unsafe fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}
