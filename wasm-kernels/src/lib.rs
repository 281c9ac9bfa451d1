//! Kernels for tract on wasm32 SIMD128 where tract's own wasm code is slow, each with its
//! measured reason in its module: the f32 matrix product (`gemm`), the element-wise
//! maximum and minimum of two tensors (`unicast`), both registered with tract-linalg at
//! start-up, and the row of a 2×2 stride-2 max pool (`pool`), which core's own pooling op
//! calls. On x86_64, the depthwise convolution (`depthwise_x86`), which tract walks in
//! scalar code at strides other than 1, and at stride 1 over zero-padded planes for
//! core's own op (no border zones), the stride-2 direct convolution of the models'
//! first layers (`conv_w4_x86`), where tract's kernel waits on its shuffles, the 1×1
//! convolution of a channels-first map without packing it, with the residual and PReLU
//! after it (`pointwise_x86`), eight
//! bilinear samples at once for core's rotated crops (`bilinear_x86`), and
//! `clear_upper_state` for after each tract run (`upper_state`). Empty on every other
//! target. Tract hands kernels raw pointers, so this crate is where livecheck's only
//! `unsafe` lives.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod gemm;

#[cfg(target_arch = "x86_64")]
mod bilinear_x86;
#[cfg(target_arch = "x86_64")]
mod conv_w4_x86;
#[cfg(target_arch = "x86_64")]
mod depthwise_x86;
#[cfg(target_arch = "x86_64")]
mod pointwise_x86;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod pool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod unicast;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use gemm::{kernel_for, NAME};
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use pool::max_2x2_row;

/// Keeps the kernels, and with them their start-up registrations with tract, in the linked
/// wasm: wasm-ld drops an object nothing references. Call it before tract picks kernels.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn keep_linked() {
    std::hint::black_box((gemm::anchor(), unicast::anchor()));
}

/// As on wasm32: keeps the x86_64 kernels' registrations with tract in the linked binary.
#[cfg(target_arch = "x86_64")]
pub fn keep_linked() {
    std::hint::black_box((depthwise_x86::anchor(), conv_w4_x86::anchor()));
}

#[cfg(target_arch = "x86_64")]
pub use bilinear_x86::sample8;
#[cfg(target_arch = "x86_64")]
pub use depthwise_x86::{depthwise_padded_tensor, Depthwise};
#[cfg(target_arch = "x86_64")]
pub use pointwise_x86::{
    available as pointwise_available, pointwise_conv, pointwise_conv_tensor, Pointwise, Prelu,
};
#[cfg(target_arch = "x86_64")]
pub use upper_state::clear_upper_state;

#[cfg(target_arch = "x86_64")]
mod upper_state;
