//! Optimisers as PyTorch defines them (`torch.optim.SGD`, `Adam`, `AdamW`), as data: a log names the one it was
//! trained with, a replay applies it in PyTorch's own update order (the worker's `optim`), and a forging attack
//! states which one it forges against. Plain SGD (`theta - eta * grad`, no momentum) stays the paper's setting and
//! the built-in logs' default; the PyTorch SGD here with momentum 0 is `param.add_(grad, alpha=-lr)`, which rounds
//! once where the paper's form rounds twice.
use serde::{Deserialize, Serialize};
use std::fmt;

/// An optimiser and its hyper-parameters (the learning rate is per step, in the log's schedule).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Optimizer {
    /// The paper's plain SGD: `theta - eta * grad` (the step `eta * grad` rounded, then subtracted).
    #[default]
    Plain,
    /// `torch.optim.SGD(momentum, dampening, nesterov, weight_decay)`.
    Sgd {
        /// Momentum factor (0: none).
        #[serde(default)]
        momentum: f64,
        /// Dampening of the momentum.
        #[serde(default)]
        dampening: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// `torch.optim.Adam` (decoupled = false) or `torch.optim.AdamW` (decoupled = true).
    Adam {
        /// beta1.
        beta1: f64,
        /// beta2.
        beta2: f64,
        /// eps.
        eps: f64,
        /// Weight decay: added to the gradient (Adam) or applied to the parameter (AdamW).
        #[serde(default)]
        weight_decay: f64,
        /// AdamW's decoupled weight decay.
        #[serde(default)]
        decoupled: bool,
    },
}

impl Optimizer {
    /// Plain SGD as PyTorch runs it.
    pub const SGD: Optimizer = Optimizer::Sgd {
        momentum: 0.0,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    };

    /// The per-parameter state tensors PyTorch keeps, by their `state_dict` names.
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd { momentum, .. } if *momentum != 0.0 => &["momentum_buffer"],
            Optimizer::Sgd { .. } | Optimizer::Plain => &[],
            Optimizer::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }

    /// A problem PyTorch itself would refuse, or one a replay cannot honour.
    pub fn problem(&self) -> Option<String> {
        let bad = |v: f64| !v.is_finite() || v < 0.0;
        match *self {
            Optimizer::Plain => None,
            Optimizer::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => {
                if bad(momentum) || bad(dampening) || bad(weight_decay) {
                    return Some(format!(
                        "SGD needs finite, non-negative momentum, dampening and weight decay, got {momentum}, \
                         {dampening}, {weight_decay}"
                    ));
                }
                (nesterov && (momentum <= 0.0 || dampening != 0.0))
                    .then(|| "Nesterov momentum requires a momentum and zero dampening".to_string())
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let beta = |b: f64| (0.0..1.0).contains(&b);
                (!(beta(beta1) && beta(beta2)) || bad(eps) || bad(weight_decay)).then(|| {
                    format!(
                        "Adam needs betas in [0, 1) and finite, non-negative eps and weight decay, got betas \
                         ({beta1}, {beta2}), eps {eps}, weight decay {weight_decay}"
                    )
                })
            }
        }
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Optimizer::Plain => write!(f, "plain SGD (theta - eta grad)"),
            Optimizer::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => {
                write!(f, "SGD")?;
                if momentum != 0.0 {
                    let n = if nesterov { ", Nesterov" } else { "" };
                    write!(f, " (momentum {momentum}, dampening {dampening}{n})")?;
                }
                if weight_decay != 0.0 {
                    write!(f, " weight decay {weight_decay}")?;
                }
                Ok(())
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
            } => {
                let name = if decoupled { "AdamW" } else { "Adam" };
                write!(
                    f,
                    "{name} (betas {beta1}, {beta2}; eps {eps}; weight decay {weight_decay})"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_python_module_writes_and_refuses_what_pytorch_refuses() {
        let o: Optimizer =
            serde_json::from_str(r#"{"kind":"sgd","momentum":0.9,"dampening":0,"nesterov":true,"weight_decay":1e-4}"#)
                .unwrap();
        assert_eq!(o.state_names(), ["momentum_buffer"]);
        assert_eq!(o.problem(), None);
        assert_eq!(Optimizer::SGD.state_names().len(), 0);
        let bad = Optimizer::Sgd {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: true,
            weight_decay: 0.0,
        };
        assert!(bad.problem().unwrap().contains("Nesterov"), "{:?}", bad.problem());
        let adamw: Optimizer = serde_json::from_str(
            r#"{"kind":"adam","beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.01,"decoupled":true}"#,
        )
        .unwrap();
        assert_eq!(
            adamw.to_string(),
            "AdamW (betas 0.9, 0.999; eps 0.00000001; weight decay 0.01)"
        );
        assert!(serde_json::from_str::<Optimizer>(r#"{"kind":"sgd","lr":0.1}"#).is_err());
    }
}
