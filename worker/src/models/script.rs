//! A user's model from a TorchScript file (`torch.jit.script` or `torch.jit.trace` output), loaded with libtorch's
//! own loader. theta is its parameters flattened in `named_parameters()` order; buffers (BatchNorm running
//! statistics) are not part of it, and the module runs in training mode, as the built-in models do.
//!
//! The module owns its parameter tensors, so a step copies theta into them and reads the gradient back from them:
//! the copy is exact and autograd then runs the module's own graph, which for the same ops is the built-in models'
//! graph (the TorchScript LeNet-5 gives the built-in's gradient bit for bit).
use crate::error::{Result, WorkerError};
use crate::update::{cross_entropy, cross_entropy_soft, Batch};
use forgebench_shared::torchrun::{ModelIdentity, ParamInfo};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::{CModule, Device, IValue, Kind, Tensor};

/// A loaded TorchScript model.
pub struct ScriptNet {
    module: CModule,
    params: Vec<Tensor>,
    identity: ModelIdentity,
    path: PathBuf,
}

impl ScriptNet {
    /// Loads `path` onto `device` and puts it in training mode.
    pub fn load(path: &Path, device: Device) -> Result<ScriptNet> {
        let bytes = std::fs::read(path).map_err(|e| WorkerError::io(path, e))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let not_script = |e: tch::TchError| {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            WorkerError::artifact(
                path,
                format!(
                    "not a TorchScript model (torch.jit.script or torch.jit.trace output, saved with .save): {first}"
                ),
            )
        };
        // The graph executor's optimisations swap in TorchScript's own symbolic derivatives (differentiable graphs)
        // from the second call on, which round differently from eager autograd (measured: the row transformer's
        // replay of PyTorch's own step parts by 1e-9..1e-5 in L2 from step 1, in the writer's own profile). A
        // user trains eagerly, so the module runs unoptimised: op by op, with eager autograd. Process-wide.
        tch::jit::f_set_graph_executor_optimize(false).map_err(not_script)?;
        let mut module = CModule::load_on_device(path, device).map_err(not_script)?;
        module.f_set_train().map_err(not_script)?;
        let named = module.named_parameters().map_err(not_script)?;
        if named.is_empty() {
            return Err(WorkerError::artifact(
                path,
                "the TorchScript model has no parameters to train",
            ));
        }
        let mut params = Vec::with_capacity(named.len());
        let mut infos = Vec::with_capacity(named.len());
        for (name, t) in named {
            if t.kind() != Kind::Float {
                return Err(WorkerError::artifact(
                    path,
                    format!("parameter {name} is {:?}; forgebench trains f32 parameters", t.kind()),
                ));
            }
            infos.push(ParamInfo { name, shape: t.size() });
            params.push(t.set_requires_grad(true));
        }
        let identity = ModelIdentity {
            file: path.display().to_string(),
            sha256,
            params: infos,
        };
        Ok(ScriptNet {
            module,
            params,
            identity,
            path: path.to_path_buf(),
        })
    }

    /// The file's identity (sha256, parameters).
    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// Dimension of theta.
    pub fn dim(&self) -> usize {
        self.identity.dim()
    }

    /// The module's current parameters as a flat theta (after loading: the file's own, its theta_0).
    pub fn theta(&self) -> Result<Tensor> {
        let flat: Vec<Tensor> = self.params.iter().map(|p| p.detach().reshape([-1])).collect();
        Ok(Tensor::f_cat(&flat, 0)?)
    }

    /// Copies theta (1-D, f32) into the module's parameters.
    pub fn set_theta(&self, theta: &Tensor) -> Result<()> {
        if theta.numel() != self.dim() {
            return Err(WorkerError::Invalid(format!(
                "{}: theta has {} values but the model has {} parameters",
                self.path.display(),
                theta.numel(),
                self.dim()
            )));
        }
        let _guard = tch::no_grad_guard();
        let mut offset = 0i64;
        for (p, info) in self.params.iter().zip(&self.identity.params) {
            let n = info.numel() as i64;
            let mut p = p.shallow_clone();
            p.f_copy_(&theta.f_narrow(0, offset, n)?.f_view(info.shape.as_slice())?)?;
            offset += n;
        }
        Ok(())
    }

    /// Logits of `x`, checked to be `[b, classes]` with `classes` > 1.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self
            .module
            .forward_is(&[IValue::Tensor(x.shallow_clone())])
            .map_err(|e| {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                WorkerError::artifact(
                    &self.path,
                    format!(
                        "forward failed on a batch of shape {:?} (is the data set, --dataset, the one the model \
                         takes?): {first}",
                        x.size()
                    ),
                )
            })?;
        let logits = match out {
            IValue::Tensor(t) => t,
            other => {
                return Err(WorkerError::artifact(
                    &self.path,
                    format!(
                        "forward must return a tensor of logits [b, classes], returned {}",
                        ivalue_kind(&other)
                    ),
                ))
            }
        };
        let b = x.size()[0];
        let size = logits.size();
        if size.len() != 2 || size[0] != b || size[1] < 2 {
            return Err(WorkerError::artifact(
                &self.path,
                format!("forward must return logits of shape [b, classes] = [{b}, classes >= 2], returned {size:?}"),
            ));
        }
        Ok(logits)
    }

    /// grad of the mean cross-entropy at `theta` on `batch`, flattened like theta.
    pub fn gradient(&self, theta: &Tensor, batch: &Batch) -> Result<Tensor> {
        self.set_theta(theta)?;
        let loss = tch::with_grad(|| -> Result<Tensor> { cross_entropy(&self.forward(&batch.x)?, &batch.y) })?;
        let grads = Tensor::f_run_backward(&[&loss], &self.params, false, false)?;
        let flat: Vec<Tensor> = grads.iter().map(|g| g.reshape([-1])).collect();
        Ok(Tensor::f_cat(&flat, 0)?)
    }

    /// grad of the mean cross-entropy against soft labels `q` (`[b, classes]`) at `theta` on inputs `x`, flattened
    /// like theta. With `create_graph` the result stays a function of `x` and `q` (double backpropagation).
    pub fn soft_gradient(&self, theta: &Tensor, x: &Tensor, q: &Tensor, create_graph: bool) -> Result<Tensor> {
        self.set_theta(theta)?;
        tch::with_grad(|| -> Result<Tensor> {
            let loss = cross_entropy_soft(&self.forward(x)?, q)?;
            let grads = Tensor::f_run_backward(&[&loss], &self.params, create_graph, create_graph)?;
            let flat: Vec<Tensor> = grads.iter().map(|g| g.reshape([-1])).collect();
            Ok(Tensor::f_cat(&flat, 0)?)
        })
    }
}

fn ivalue_kind(v: &IValue) -> &'static str {
    match v {
        IValue::Tuple(_) => "a tuple",
        IValue::GenericList(_) | IValue::TensorList(_) => "a list",
        IValue::GenericDict(_) => "a dict",
        IValue::None => "None",
        _ => "a non-tensor value",
    }
}
