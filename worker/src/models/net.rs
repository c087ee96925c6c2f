//! A model as a replay needs it, whether built in or a user's TorchScript file: its parameters and the gradient of
//! the mean cross-entropy at a flat theta. Callers that take any model hold a [`Net`] and never branch on its kind.
use super::script::ScriptNet;
use crate::error::Result;
use crate::update::{gradient, loss_soft, Batch};
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::torchrun::{ModelIdentity, ParamInfo};
use std::path::Path;
use tch::{Device, Tensor};

/// A built-in model or a TorchScript one.
pub enum Net {
    /// One of the paper's models.
    Builtin(ModelKind),
    /// A user's TorchScript file.
    Script(Box<ScriptNet>),
}

impl Net {
    /// `arg` as a built-in model's name, else as the path of a TorchScript file (loaded onto `device`).
    pub fn from_arg(arg: &str, device: Device) -> Result<Net> {
        match arg.parse::<ModelKind>() {
            Ok(m) => Ok(Net::Builtin(m)),
            Err(_) => Ok(Net::Script(Box::new(ScriptNet::load(Path::new(arg), device)?))),
        }
    }

    /// Dimension of theta.
    pub fn dim(&self) -> usize {
        match self {
            Net::Builtin(m) => m.param_count(),
            Net::Script(s) => s.dim(),
        }
    }

    /// The parameters in flattening order.
    pub fn params(&self) -> Vec<ParamInfo> {
        match self {
            Net::Builtin(m) => super::layout(*m)
                .into_iter()
                .map(|p| ParamInfo {
                    name: p.name,
                    shape: p.shape,
                })
                .collect(),
            Net::Script(s) => s.identity().params.clone(),
        }
    }

    /// What results record of the model: a TorchScript file's sha256, or the built-in's name.
    pub fn identity(&self) -> ModelIdentity {
        match self {
            Net::Builtin(m) => ModelIdentity {
                file: format!("built-in:{m}"),
                sha256: String::new(),
                params: self.params(),
            },
            Net::Script(s) => s.identity().clone(),
        }
    }

    /// grad of the mean cross-entropy at `theta` (1-D) on `batch`, flattened like theta.
    pub fn gradient(&self, theta: &Tensor, batch: &Batch) -> Result<Tensor> {
        match self {
            Net::Builtin(m) => gradient(*m, theta, batch),
            Net::Script(s) => s.gradient(theta, batch),
        }
    }

    /// grad of the mean cross-entropy against soft labels `q` at `theta` on inputs `x`, flattened like theta; with
    /// `create_graph` it stays differentiable with respect to `x` and `q`.
    pub fn soft_gradient(&self, theta: &Tensor, x: &Tensor, q: &Tensor, create_graph: bool) -> Result<Tensor> {
        match self {
            Net::Builtin(m) => tch::with_grad(|| -> Result<Tensor> {
                let th = theta.f_detach()?.f_set_requires_grad(true)?;
                let l = loss_soft(*m, &th, x, q)?;
                Ok(Tensor::f_run_backward(&[&l], &[&th], create_graph, create_graph)?.remove(0))
            }),
            Net::Script(s) => s.soft_gradient(theta, x, q, create_graph),
        }
    }

    /// Number of classes the logits have (one forward of `x`, a batch of the model's inputs).
    pub fn classes(&self, theta: &Tensor, x: &Tensor) -> Result<i64> {
        let _guard = tch::no_grad_guard();
        let logits = match self {
            Net::Builtin(m) => super::forward(*m, theta, x),
            Net::Script(s) => {
                s.set_theta(theta)?;
                s.forward(x)?
            }
        };
        Ok(logits.size().last().copied().unwrap_or(0))
    }
}
