//! This front end against tract-onnx's, on every model the engine loads: the same
//! outputs for the same input. Ours runs with the PRelu rewrite, as the engine does;
//! tract-onnx runs the files as published.

use tract_hir::prelude::*;

use crate::manifest::ModelFiles;

/// A deterministic input in `[0, scale)` (a linear congruential sequence).
fn input(shape: &[usize], scale: f32) -> Tensor {
    let len: usize = shape.iter().product();
    let mut state = 0x2545_f491_u32;
    let values: Vec<f32> = (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * scale
        })
        .collect();
    Tensor::from_shape(shape, &values).expect("shape")
}

fn outputs(plan: &std::sync::Arc<TypedSimplePlan>, x: &Tensor) -> Vec<Vec<f32>> {
    plan.run(tvec!(x.clone().into()))
        .expect("runs")
        .iter()
        .map(|o| {
            o.to_plain_array_view::<f32>()
                .expect("f32")
                .iter()
                .copied()
                .collect()
        })
        .collect()
}

#[test]
fn every_model_computes_what_tract_onnx_computes() {
    use tract_onnx::prelude::Framework;
    let files = ModelFiles::load_dir(&ModelFiles::default_dir())
        .unwrap_or_else(|e| panic!("{e}; run models/fetch.sh"));
    let cases: [(&str, &[usize], f32); 6] = [
        ("yunet", &[1, 3, 320, 320], 255.0),
        ("face_mesh", &[1, 256, 256, 3], 1.0),
        ("blendshapes", &[1, 146, 2], 256.0),
        ("minifasnet_v2", &[1, 3, 80, 80], 255.0),
        ("minifasnet_v1se", &[1, 3, 80, 80], 255.0),
        ("face_recognition", &[1, 3, 150, 150], 1.0),
    ];
    for (name, shape, scale) in cases {
        let bytes = files.get(name);
        let ours = super::optimized_model(bytes, shape, |p| {
            crate::model::rewrite_prelu(p);
            Ok(())
        })
        .and_then(|m| m.into_runnable())
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let reference = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .unwrap_or_else(|e| panic!("{name} in tract-onnx: {e:#}"));
        let x = input(shape, scale);
        let (got, want) = (outputs(&ours, &x), outputs(&reference, &x));
        assert_eq!(got.len(), want.len(), "{name}: number of outputs");
        let all: Vec<f32> = want.concat();
        let distinct = all.iter().any(|v| (v - all[0]).abs() > 1e-3);
        assert!(distinct, "{name}: every output value is the same");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len(), "{name} output {i}: length");
            let peak = w.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(
                peak > 0.0,
                "{name} output {i} is all zeros: no check at all"
            );
            let worst = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-4 * peak.max(1.0),
                "{name} output {i}: differs by {worst} (largest value {peak})"
            );
        }
    }
}
