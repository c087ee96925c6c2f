//! The built-in models as sequences of operations, for the exact arm: each operation's output (forward) and each
//! gradient of its backward pass is a rounding site. Operations that only select, move or reshape values (ReLU,
//! max-pooling over disjoint windows, flattening) compute nothing inexact in either direction and round nothing.
//!
//! Folding the sequence in f32 computes exactly what [`crate::models::forward`] computes (a test checks it bit for
//! bit), so both arms train the same function.
use crate::models::bn_train;
use forgebench_shared::experiment::ModelKind;
use tch::Tensor;

type Apply = Box<dyn Fn(&Tensor, &[Tensor]) -> Tensor>;

/// One operation of a model.
pub struct Op {
    /// Name of the layer ("conv1", "bn_fc1", "relu2"); sites are named after it.
    pub name: String,
    /// Indices of its parameters in the model's layout.
    pub params: Vec<usize>,
    /// Whether it computes nothing inexact (its results need no rounding).
    pub exact: bool,
    /// Output from input and parameters.
    pub apply: Apply,
}

fn op(name: impl Into<String>, params: Vec<usize>, exact: bool, apply: Apply) -> Op {
    Op {
        name: name.into(),
        params,
        exact,
        apply,
    }
}

fn relu(name: String) -> Op {
    op(name, vec![], true, Box::new(|h, _| h.relu()))
}

fn pool(name: String) -> Op {
    op(
        name,
        vec![],
        true,
        Box::new(|h, _| h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)),
    )
}

fn flatten() -> Op {
    op("flatten", vec![], true, Box::new(|h, _| h.flatten(1, -1)))
}

fn linear(name: &str, w: usize, bias: bool) -> Op {
    let params = if bias { vec![w, w + 1] } else { vec![w] };
    op(name, params, false, Box::new(|h, p| h.linear(&p[0], p.get(1))))
}

fn conv(name: String, w: usize, padding: i64) -> Op {
    op(
        name,
        vec![w, w + 1],
        false,
        Box::new(move |h, p| h.conv2d(&p[0], Some(&p[1]), [1, 1], [padding, padding], [1, 1], 1)),
    )
}

fn bn(name: String, gamma: usize) -> Op {
    op(
        name,
        vec![gamma, gamma + 1],
        false,
        Box::new(|h, p| bn_train(h, &p[0], &p[1])),
    )
}

fn elu(name: String) -> Op {
    op(name, vec![], false, Box::new(|h, _| h.elu()))
}

/// The operations of `model`, input to logits.
pub fn ops(model: ModelKind) -> Vec<Op> {
    match model {
        ModelKind::Logreg => vec![flatten(), linear("fc", 0, false)],
        ModelKind::LogregBias => vec![flatten(), linear("fc", 0, true)],
        ModelKind::Lenet5 => vec![
            conv("conv1".into(), 0, 2),
            relu("relu1".into()),
            pool("pool1".into()),
            conv("conv2".into(), 2, 0),
            relu("relu2".into()),
            pool("pool2".into()),
            flatten(),
            linear("fc1", 4, true),
            relu("relu3".into()),
            linear("fc2", 6, true),
            relu("relu4".into()),
            linear("fc3", 8, true),
        ],
        ModelKind::Vggmini => {
            let mut v = Vec::new();
            for i in 0..8 {
                v.push(conv(format!("conv{}", i + 1), 4 * i, 1));
                v.push(bn(format!("bn{}", i + 1), 4 * i + 2));
                v.push(elu(format!("elu{}", i + 1)));
                if i == 1 || i == 3 || i == 5 {
                    v.push(pool(format!("pool{}", i / 2 + 1)));
                }
            }
            v.extend([
                flatten(),
                linear("fc1", 32, true),
                bn("bn_fc1".into(), 34),
                elu("elu_fc1".into()),
                linear("fc2", 36, true),
                bn("bn_fc2".into(), 38),
                elu("elu_fc2".into()),
                linear("fc3", 40, true),
            ]);
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models;
    use forgebench_shared::rng::PortableRng;

    #[test]
    fn the_sequence_computes_the_models_forward_bit_for_bit() {
        for model in ModelKind::ALL {
            let theta = crate::tensors::from_f32(&models::draw_theta(model, 3, 0), tch::Device::Cpu);
            let [c, h, w] = model.default_dataset().example_shape().expect("a built-in data set");
            let n = 4 * c * h * w;
            let x = Tensor::from_slice(&PortableRng::derived(5, "x", 0).uniform_f32(n, -1.0, 1.0))
                .view([4, c as i64, h as i64, w as i64]);
            let params = models::param_views(model, &theta);
            let mut y = x.shallow_clone();
            for o in ops(model) {
                let p: Vec<Tensor> = o.params.iter().map(|&i| params[i].shallow_clone()).collect();
                y = (o.apply)(&y, &p);
            }
            let reference = models::forward(model, &theta, &x);
            let (a, b) = (
                crate::tensors::to_f32(&y).unwrap(),
                crate::tensors::to_f32(&reference).unwrap(),
            );
            assert!(
                a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "{model}: the operation sequence's logits differ from the model's (first {:?} against {:?})",
                &a[..4],
                &b[..4]
            );
        }
    }
}
