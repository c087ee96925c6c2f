use super::*;

fn params() -> Vec<ParamInfo> {
    vec![
        ParamInfo {
            name: "w".into(),
            shape: vec![2, 2],
        },
        ParamInfo {
            name: "b".into(),
            shape: vec![3],
        },
    ]
}

fn run(opt: &Optimizer, grads: &[f32], steps: usize, lr: f64) -> (Vec<f32>, OptState) {
    let theta = Tensor::from_slice(&[1.0f32; 7]);
    let mut state = OptState::fresh(opt, 7, Device::Cpu);
    for _ in 0..steps {
        step(opt, &params(), &theta, &Tensor::from_slice(grads), &mut state, lr).unwrap();
    }
    (Vec::<f32>::try_from(&theta).unwrap(), state)
}

#[test]
fn momentum_sgd_follows_pytorch_order_exactly_on_representable_values() {
    let opt = Optimizer::Sgd {
        momentum: 0.5,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    };
    // buf_1 = g = 0.5, theta_1 = 1 - 0.5 * 0.5; buf_2 = 0.5 * 0.5 + 0.5, theta_2 = 0.75 - 0.5 * 0.75.
    let (theta, state) = run(&opt, &[0.5; 7], 2, 0.5);
    assert_eq!(theta, vec![0.375f32; 7], "theta after two momentum steps");
    assert_eq!(state.step, 2);
    assert_eq!(Vec::<f32>::try_from(&state.buffers[0]).unwrap(), vec![0.75f32; 7]);
}

#[test]
fn weight_decay_and_nesterov_enter_as_pytorch_defines_them() {
    // wd: g' = g + 0.5 * theta = 1; Nesterov: buf = 1, g'' = g' + 0.5 * buf = 1.5; theta = 1 - 0.25 * 1.5.
    let opt = Optimizer::Sgd {
        momentum: 0.5,
        dampening: 0.0,
        nesterov: true,
        weight_decay: 0.5,
    };
    let (theta, _) = run(&opt, &[0.5; 7], 1, 0.25);
    assert_eq!(theta, vec![0.625f32; 7]);
}

#[test]
fn adam_and_adamw_first_step_moves_by_about_lr() {
    for decoupled in [false, true] {
        let opt = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled,
        };
        let (theta, state) = run(&opt, &[0.25, -0.5, 1.0, 2.0, 0.125, -4.0, 8.0], 1, 0.01);
        for (t, g) in theta.iter().zip([0.25f32, -0.5, 1.0, 2.0, 0.125, -4.0, 8.0]) {
            let want = 1.0 - 0.01 * g.signum();
            assert!((t - want).abs() < 1e-6, "Adam's first step: got {t}, want {want}");
        }
        assert_eq!(state.step, 1);
        assert_eq!(state.buffers.len(), 2);
    }
    // AdamW decays the parameter itself: theta * (1 - lr * wd) before the step.
    let opt = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.5,
        decoupled: true,
    };
    let (theta, _) = run(&opt, &[1.0; 7], 1, 0.01);
    let want = 0.995f32 - 0.01;
    assert!((theta[0] - want).abs() < 1e-6, "AdamW: got {}, want {want}", theta[0]);
}

#[test]
fn the_differentiable_update_agrees_with_the_kernels_on_every_optimiser() {
    let sgd = |momentum, nesterov, weight_decay| Optimizer::Sgd {
        momentum,
        dampening: 0.0,
        nesterov,
        weight_decay,
    };
    let adam = |weight_decay, decoupled| Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        decoupled,
    };
    let opts = [
        Optimizer::Plain,
        sgd(0.9, false, 1e-4),
        sgd(0.9, true, 0.0),
        adam(0.0, false),
        adam(1e-2, true),
    ];
    let grads: [&[f32]; 3] = [
        &[0.25, -0.5, 1.0, 2.0, 0.125, -4.0, 8.0],
        &[0.5, 0.5, -1.0, 0.0, 0.3, 1.5, -2.0],
        &[1.0, -0.1, 0.2, 0.7, -0.9, 0.05, 3.0],
    ];
    for opt in &opts {
        let theta = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 0.25, 3.0, -1.0, 0.0]);
        let mut state = OptState::fresh(opt, 7, Device::Cpu);
        for g in grads {
            let g = Tensor::from_slice(g);
            let want = diff::next_theta(opt, &theta, &g, &state, 0.1).unwrap();
            step(opt, &params(), &theta, &g, &mut state, 0.1).unwrap();
            let gap = (&theta - &want).abs().max().double_value(&[]);
            assert!(
                gap < 1e-6,
                "{opt} at step {}: kernel {theta:?}, differentiable {want:?}",
                state.step
            );
        }
    }
}
