//! Loading ONNX models from bytes with tract, and the one error type every model shares.

use thiserror::Error;
use tract_onnx::prelude::*;

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
        let load = |e: TractError| ModelError::Load {
            model: name,
            reason: format!("{e:#}"),
        };
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(load)?
            .with_input_fact(0, f32::fact(input_shape).into())
            .map_err(load)?
            .into_optimized()
            .map_err(load)?
            .into_runnable()
            .map_err(load)?;
        Ok(Self { name, plan })
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
        let tensor = Tensor::from_shape(shape, &input).map_err(run)?;
        let outputs = self.plan.run(tvec!(tensor.into())).map_err(run)?;
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
