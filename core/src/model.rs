//! Loading ONNX models from bytes with tract, and the one error type every model shares.

use thiserror::Error;
use tract_hir::prelude::*;

use crate::onnx::proto::{self, ModelProto, NodeProto, TensorProto};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    #[error("model {model} could not be loaded: {reason}")]
    Load { model: &'static str, reason: String },
    #[error("model {model} failed its checksum: {reason}")]
    Checksum { model: String, reason: String },
    #[error("model {model} failed to run: {reason}")]
    Run { model: &'static str, reason: String },
}

type Plan = std::sync::Arc<TypedSimplePlan>;

/// One kind of op's share of a model run (see `op_costs`).
#[derive(Clone, Debug, PartialEq)]
pub struct OpCost {
    pub op: String,
    /// Nodes of this kind in the optimised graph.
    pub nodes: usize,
    /// Mean milliseconds per run, all its nodes together.
    pub ms: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputLayout {
    AsDeclared,
    ChannelsFirst,
}

/// One optimised ONNX graph with a fixed input shape.
pub(crate) struct OnnxModel {
    name: &'static str,
    plan: Plan,
}

impl OnnxModel {
    pub(crate) fn from_onnx_bytes(
        name: &'static str,
        bytes: &[u8],
        input_shape: &[usize],
    ) -> Result<Self, ModelError> {
        Self::with_layout(name, bytes, input_shape, InputLayout::AsDeclared)
    }

    /// A model whose graph starts by turning its NHWC input to NCHW, loaded to take
    /// NCHW (`input_shape`) without that step (`rewrite_channels_first_input`).
    pub(crate) fn channels_first(
        name: &'static str,
        bytes: &[u8],
        input_shape: &[usize],
    ) -> Result<Self, ModelError> {
        Self::with_layout(name, bytes, input_shape, InputLayout::ChannelsFirst)
    }

    fn with_layout(
        name: &'static str,
        bytes: &[u8],
        input_shape: &[usize],
        layout: InputLayout,
    ) -> Result<Self, ModelError> {
        let load = |e: TractError| ModelError::Load {
            model: name,
            reason: format!("{e:#}"),
        };
        // Our kernels register themselves with tract at start-up, if they are linked.
        #[cfg(any(
            all(target_arch = "wasm32", target_feature = "simd128"),
            target_arch = "x86_64"
        ))]
        livecheck_wasm_kernels::keep_linked();
        let plan = crate::onnx::optimized_model(bytes, input_shape, |proto| {
            rewrite_prelu(proto);
            if layout == InputLayout::ChannelsFirst && !rewrite_channels_first_input(proto) {
                tract_hir::internal::bail!("expected its NHWC input turned to NCHW first");
            }
            Ok(())
        })
        .and_then(|model| model.into_runnable())
        .map_err(load)?;
        Ok(Self { name, plan })
    }

    /// Times each node over `runs` runs on a zero input; op kinds slowest first.
    fn op_costs(
        &self,
        shape: &[usize],
        runs: usize,
        clock_ms: &dyn Fn() -> f64,
    ) -> Result<Vec<OpCost>, ModelError> {
        use std::collections::HashMap;
        use tract_hir::tract_core::plan::{eval, SimpleState};
        let run = |e: TractError| ModelError::Run {
            model: self.name,
            reason: format!("{e:#}"),
        };
        let input: TValue = Tensor::zero::<f32>(shape).map_err(run)?.into();
        let mut state = SimpleState::new(&self.plan).map_err(run)?;
        state.run(tvec!(input.clone())).map_err(run)?; // warm-up
        let mut per_op: HashMap<String, (f64, usize)> = HashMap::new();
        for _ in 0..runs {
            state
                .run_plan_with_eval(tvec!(input.clone()), |ctx, op_state, node, inputs| {
                    let t = clock_ms();
                    let out = eval(ctx, op_state, node, inputs);
                    let e = per_op.entry(node.op().name().to_string()).or_default();
                    e.0 += clock_ms() - t;
                    e.1 += 1;
                    out
                })
                .map_err(run)?;
        }
        let runs_f = runs.max(1) as f64;
        let mut costs: Vec<OpCost> = per_op
            .into_iter()
            .map(|(op, (ms, n))| OpCost {
                op,
                nodes: n / runs.max(1),
                ms: ms / runs_f,
            })
            .collect();
        costs.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok(costs)
    }

    /// Runs the model on one f32 input and returns every output as a flat vector.
    pub(crate) fn run(
        &self,
        shape: &[usize],
        input: Vec<f32>,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let run = |e: TractError| ModelError::Run {
            model: self.name,
            reason: format!("{e:#}"),
        };
        // tract copies an `ArrayD` into storage of its own alignment (`Tensor::from_datum`),
        // the detector's 1.2 MB input too: about 1 % of the verifier's CPU (`perf`). Filling
        // the tensor in place would need every caller to write into it; left for now.
        let tensor: Tensor = tract_ndarray::ArrayD::from_shape_vec(shape, input)
            .map_err(|e| run(e.into()))?
            .into();
        let outputs = self.plan.run(tvec!(tensor.into())).map_err(run);
        #[cfg(target_arch = "x86_64")]
        livecheck_wasm_kernels::clear_upper_state();
        let outputs = outputs?;
        outputs
            .iter()
            .map(|o| {
                o.to_plain_array_view::<f32>()
                    .map(|a| a.iter().copied().collect())
                    .map_err(run)
            })
            .collect()
    }
}

/// Where a model's time goes op by op, as core loads and optimises it: a tool for
/// performance work (`examples/op_profile.rs`, and `tests/stage_timing.rs` in wasm32).
/// `clock_ms` reads a monotonic clock in milliseconds (core itself has none in wasm).
pub fn op_costs(
    bytes: &[u8],
    shape: &[usize],
    runs: usize,
    clock_ms: &dyn Fn() -> f64,
) -> Result<Vec<OpCost>, ModelError> {
    OnnxModel::from_onnx_bytes("profiled", bytes, shape)?.op_costs(shape, runs, clock_ms)
}

/// The input the model benchmarks feed every runtime (`tests/bench/ort`): value `i` is
/// `(i·7919 mod 255) / 255`, the same numbers in Rust, Python and JavaScript.
pub fn bench_input(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 255) as f32 / 255.0)
        .collect()
}

/// A model as core loads it, run on `bench_input` `warm` times untimed and then `runs`
/// times: each timed run's milliseconds (`scripts/ort-compare.sh`).
pub fn run_times(
    bytes: &[u8],
    shape: &[usize],
    warm: usize,
    runs: usize,
    clock_ms: &dyn Fn() -> f64,
) -> Result<Vec<f64>, ModelError> {
    let model = OnnxModel::from_onnx_bytes("timed", bytes, shape)?;
    let input = bench_input(shape.iter().product());
    for _ in 0..warm {
        model.run(shape, input.clone())?;
    }
    (0..runs)
        .map(|_| {
            let input = input.clone();
            let t = clock_ms();
            model.run(shape, input)?;
            Ok(clock_ms() - t)
        })
        .collect()
}

/// Drops a leading `Transpose(perm = [0, 3, 1, 2])` of the graph's input when nothing
/// else reads that input, so the caller feeds NCHW directly: Face Mesh V2 takes NHWC
/// and turns it round first, which cost tract a whole pass over its 0.8 MB input
/// (`MoveAxis`, 0.25–0.33 ms a run natively) where the crop can write the planes itself. A
/// transposition only moves values, so the outputs are the same bit for bit. Returns
/// whether it was dropped.
pub(crate) fn rewrite_channels_first_input(model: &mut ModelProto) -> bool {
    let Some(graph) = model.graph.as_mut() else {
        return false;
    };
    let [input] = graph.input.as_slice() else {
        return false;
    };
    let input = input.name.clone();
    let mut readers = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.input.contains(&input));
    let (Some((at, node)), None) = (readers.next(), readers.next()) else {
        return false;
    };
    let to_nchw = node.op_type == "Transpose"
        && node.domain.is_empty()
        && node.input.len() == 1
        && node.output.len() == 1
        && node
            .attribute
            .iter()
            .any(|a| a.name == "perm" && a.ints == [0, 3, 1, 2])
        && !graph.output.iter().any(|o| o.name == node.output[0]);
    if !to_nchw {
        return false;
    }
    let transposed = graph.node.remove(at).output[0].clone();
    for name in graph.node.iter_mut().flat_map(|n| n.input.iter_mut()) {
        if *name == transposed {
            name.clone_from(&input);
        }
    }
    true
}

/// Rewrites `PRelu(x, slope)` into element-wise ops that tract runs fast: `Max(x,
/// Mul(x, slope))` when every slope is ≤ 1 (the same function there), otherwise
/// `Add(x, Mul(Min(x, 0), slope − 1))`. tract expands PRelu into a comparison, a
/// multiply and a three-way select; Face Mesh V2 has 69 of them, and they took a third
/// of its time. Returns how many nodes were rewritten.
pub(crate) fn rewrite_prelu(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let mut rewritten = 0;
    let mut extra = Vec::new();
    let nodes = std::mem::take(&mut graph.node);
    for node in nodes {
        let slope = (node.op_type == "PRelu"
            && node.domain.is_empty()
            && node.input.len() == 2
            && node.output.len() == 1)
            .then(|| graph.initializer.iter().find(|t| t.name == node.input[1]))
            .flatten()
            .and_then(|t| Some((t.dims.clone(), float_values(t)?)))
            .filter(|(_, v)| !v.is_empty());
        let Some((dims, slope)) = slope else {
            graph.node.push(node);
            continue;
        };
        rewritten += 1;
        let (x, y, name) = (&node.input[0], &node.output[0], &node.name);
        let wire = |op: &str, suffix: &str, inputs: &[&str], output: &str| NodeProto {
            input: inputs.iter().map(|i| i.to_string()).collect(),
            output: vec![output.to_string()],
            name: format!("{name}.{suffix}"),
            op_type: op.into(),
            ..NodeProto::default()
        };
        if slope.iter().all(|s| *s <= 1.0) {
            let scaled = format!("{y}.scaled");
            graph
                .node
                .push(wire("Mul", "mul", &[x, &node.input[1]], &scaled));
            graph.node.push(wire("Max", "max", &[x, &scaled], y));
        } else {
            let (zero, minus_one) = (format!("{y}.zero"), format!("{y}.slope_minus_one"));
            let (negative, scaled) = (format!("{y}.negative"), format!("{y}.scaled"));
            extra.push(float_tensor(&zero, vec![], vec![0.0]));
            extra.push(float_tensor(
                &minus_one,
                dims,
                slope.iter().map(|s| s - 1.0).collect(),
            ));
            graph.node.push(wire("Min", "min", &[x, &zero], &negative));
            graph
                .node
                .push(wire("Mul", "mul", &[&negative, &minus_one], &scaled));
            graph.node.push(wire("Add", "add", &[x, &scaled], y));
        }
    }
    graph.initializer.extend(extra);
    rewritten
}

fn float_tensor(name: &str, dims: Vec<i64>, values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims,
        data_type: proto::FLOAT,
        float_data: values,
        ..TensorProto::default()
    }
}

/// The values of a FLOAT initializer (inline or raw little-endian).
fn float_values(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != proto::FLOAT {
        return None;
    }
    if !t.raw_data.is_empty() {
        let chunks = t.raw_data.chunks_exact(4);
        if !chunks.remainder().is_empty() {
            return None;
        }
        return Some(
            chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
    }
    Some(t.float_data.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{GraphProto, OperatorSetIdProto, ValueInfoProto};

    const SHAPE: [usize; 4] = [1, 4, 3, 3];

    /// A graph of one PRelu over a [1, 4, 3, 3] input with the given per-channel slopes.
    fn prelu_graph(slopes: [f32; 4]) -> ModelProto {
        let value = |name: &str| ValueInfoProto { name: name.into() };
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(GraphProto {
                node: vec![NodeProto {
                    input: vec!["x".into(), "slope".into()],
                    output: vec!["y".into()],
                    name: "act".into(),
                    op_type: "PRelu".into(),
                    ..NodeProto::default()
                }],
                initializer: vec![float_tensor("slope", vec![1, 4, 1, 1], slopes.to_vec())],
                input: vec![value("x")],
                output: vec![value("y")],
            }),
        }
    }

    fn run(proto: &ModelProto, input: &[f32]) -> Vec<f32> {
        let plan = crate::onnx::inference_model(proto, &SHAPE)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .expect("graph loads");
        let x = Tensor::from_shape(&SHAPE, input).expect("shape");
        let out = plan.run(tvec!(x.into())).expect("runs");
        out[0]
            .to_plain_array_view::<f32>()
            .expect("f32")
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn rewritten_prelu_computes_what_prelu_does_for_any_slopes() {
        let input: Vec<f32> = (0..36).map(|i| (i as f32 - 17.5) * 0.37).collect();
        for slopes in [[0.25, -0.5, 1.0, 0.0], [0.25, -0.5, 2.5, 19.8]] {
            let mut rewritten = prelu_graph(slopes);
            assert_eq!(rewrite_prelu(&mut rewritten), 1);
            let ops: Vec<&str> = rewritten
                .graph
                .as_ref()
                .unwrap()
                .node
                .iter()
                .map(|n| n.op_type.as_str())
                .collect();
            assert!(!ops.contains(&"PRelu"), "{ops:?}");
            let got = run(&rewritten, &input);
            assert_eq!(got.len(), input.len());
            for (i, g) in got.iter().enumerate() {
                let channel = i / 9;
                let x = input[i];
                let exact = if x > 0.0 { x } else { slopes[channel] * x };
                assert!(
                    (g - exact).abs() <= 1e-5 * exact.abs().max(1.0),
                    "rewrite at {i}: {g} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn prelu_itself_is_not_an_op_the_loader_takes() {
        let err = crate::onnx::inference_model(&prelu_graph([0.5; 4]), &SHAPE)
            .expect_err("PRelu is rewritten, never loaded");
        assert!(format!("{err:#}").contains("PRelu"), "{err:#}");
    }

    #[test]
    fn nodes_other_than_constant_slope_prelu_are_left_alone() {
        let mut proto = prelu_graph([0.5; 4]);
        proto.graph.as_mut().unwrap().initializer.clear(); // slope now a graph input
        let before = proto.clone();
        assert_eq!(rewrite_prelu(&mut proto), 0);
        assert_eq!(proto, before);
    }

    /// Transpose(perm) of input `x`, then a ReLU to `y`; `also_reads_x` adds an `Abs(x)`
    /// output beside it.
    fn transposed_input_graph(perm: Vec<i64>, also_reads_x: bool) -> ModelProto {
        let value = |name: &str| ValueInfoProto { name: name.into() };
        let node = |op: &str, input: &str, output: &str| NodeProto {
            input: vec![input.into()],
            output: vec![output.into()],
            name: output.into(),
            op_type: op.into(),
            ..NodeProto::default()
        };
        let mut turn = node("Transpose", "x", "t");
        turn.attribute.push(proto::AttributeProto {
            name: "perm".into(),
            ints: perm,
            ..proto::AttributeProto::default()
        });
        let mut graph = GraphProto {
            node: vec![turn, node("Relu", "t", "y")],
            initializer: vec![],
            input: vec![value("x")],
            output: vec![value("y")],
        };
        if also_reads_x {
            graph.node.push(node("Abs", "x", "z"));
            graph.output.push(value("z"));
        }
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(graph),
        }
    }

    #[test]
    fn only_a_lone_nhwc_to_nchw_turn_of_the_input_is_dropped() {
        let mut proto = transposed_input_graph(vec![0, 3, 1, 2], false);
        assert!(rewrite_channels_first_input(&mut proto));
        let graph = proto.graph.as_ref().unwrap();
        assert_eq!(graph.node.len(), 1);
        assert_eq!(
            (
                graph.node[0].op_type.as_str(),
                graph.node[0].input.as_slice()
            ),
            ("Relu", &["x".to_string()][..])
        );
        for kept in [
            transposed_input_graph(vec![0, 2, 3, 1], false),
            transposed_input_graph(vec![0, 3, 1, 2], true),
        ] {
            let mut proto = kept.clone();
            assert!(!rewrite_channels_first_input(&mut proto));
            assert_eq!(proto, kept);
        }
    }

    /// Face Mesh V2 as declared (NHWC) and without its first turn (NCHW), on the same
    /// pixels: every output bit for bit the same. Natively only (it reads the model).
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_face_mesh_fed_nchw_computes_what_it_does_fed_nhwc() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/cache/mediapipe_face_landmarks_detector.onnx"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (models/fetch.sh)"));
        let n = 256;
        let nhwc = bench_input(n * n * 3);
        let mut nchw = vec![0f32; nhwc.len()];
        for (i, px) in nhwc.chunks_exact(3).enumerate() {
            for (c, v) in px.iter().enumerate() {
                nchw[c * n * n + i] = *v;
            }
        }
        let declared = OnnxModel::from_onnx_bytes("mesh", &bytes, &[1, n, n, 3]).unwrap();
        let turned = OnnxModel::channels_first("mesh", &bytes, &[1, 3, n, n]).unwrap();
        let want = declared.run(&[1, n, n, 3], nhwc).unwrap();
        let got = turned.run(&[1, 3, n, n], nchw).unwrap();
        assert_eq!(want.len(), got.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(
                w.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                g.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        // The blendshape model has no such turn: asking for one is a load error.
        let blendshapes = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/cache/mediapipe_face_blendshapes.onnx"
        );
        let bytes = std::fs::read(blendshapes).unwrap();
        assert!(matches!(
            OnnxModel::channels_first("blendshapes", &bytes, &[1, 146, 2]),
            Err(ModelError::Load { .. })
        ));
    }
}
