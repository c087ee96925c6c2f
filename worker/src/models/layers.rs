//! Parameter layouts and the functional layers the models are built from.
use tch::Tensor;

/// What a parameter is, which decides its initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Linear or convolution weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's kaiming_uniform(a=sqrt 5)).
    Weight { fan_in: usize },
    /// Linear or convolution bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Bias { fan_in: usize },
    /// BatchNorm gamma: ones.
    BnWeight,
    /// BatchNorm beta: zeros.
    BnBias,
}

/// One named parameter tensor in the flat vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch-style name, e.g. "conv1.weight".
    pub name: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Initialisation class.
    pub kind: ParamKind,
}

impl ParamSpec {
    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.shape.iter().product::<i64>() as usize
    }
}

/// Weight and bias of a linear layer `inp -> out`.
pub fn linear(name: &str, inp: usize, out: usize, bias: bool) -> Vec<ParamSpec> {
    let mut v = vec![ParamSpec {
        name: format!("{name}.weight"),
        shape: vec![out as i64, inp as i64],
        kind: ParamKind::Weight { fan_in: inp },
    }];
    if bias {
        v.push(ParamSpec {
            name: format!("{name}.bias"),
            shape: vec![out as i64],
            kind: ParamKind::Bias { fan_in: inp },
        });
    }
    v
}

/// Weight and bias of a `k x k` convolution `inp -> out`.
pub fn conv(name: &str, inp: usize, out: usize, k: usize) -> Vec<ParamSpec> {
    let fan_in = inp * k * k;
    vec![
        ParamSpec {
            name: format!("{name}.weight"),
            shape: vec![out as i64, inp as i64, k as i64, k as i64],
            kind: ParamKind::Weight { fan_in },
        },
        ParamSpec {
            name: format!("{name}.bias"),
            shape: vec![out as i64],
            kind: ParamKind::Bias { fan_in },
        },
    ]
}

/// Gamma and beta of a BatchNorm over `c` channels or features.
pub fn batch_norm(name: &str, c: usize) -> Vec<ParamSpec> {
    vec![
        ParamSpec {
            name: format!("{name}.weight"),
            shape: vec![c as i64],
            kind: ParamKind::BnWeight,
        },
        ParamSpec {
            name: format!("{name}.bias"),
            shape: vec![c as i64],
            kind: ParamKind::BnBias,
        },
    ]
}

/// Views of `theta` shaped as `specs`, sharing its storage (so gradients flow back into theta).
pub fn views(theta: &Tensor, specs: &[ParamSpec]) -> Vec<Tensor> {
    // One split rather than a narrow per parameter: narrow's backward materialises a zero tensor of theta's full
    // size for every parameter and autograd sums them (O(#params x dim), ~3 GB of memory traffic per VGGmini step);
    // split's backward is one concatenation. The gradient's values are the same.
    let sizes: Vec<i64> = specs.iter().map(|s| s.numel() as i64).collect();
    theta
        .split_with_sizes(sizes.as_slice(), 0)
        .into_iter()
        .zip(specs)
        .map(|(t, s)| t.view(s.shape.as_slice()))
        .collect()
}

/// BatchNorm in training mode (batch statistics), PyTorch's default eps; no running statistics are tracked.
pub fn bn_train(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Tensor {
    x.batch_norm(
        Some(gamma),
        Some(beta),
        None::<&Tensor>,
        None::<&Tensor>,
        true,
        0.1,
        1e-5,
        true,
    )
}
