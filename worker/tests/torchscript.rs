//! The bundled TorchScript models (`data/models/`, built by `worker/python/build_models.py` with real PyTorch) as
//! forgebench runs them: the TorchScript LeNet-5 gives the built-in LeNet-5's gradient and update bit for bit, and
//! the residual CNN and the transformer take a step whose gradient autograd agrees with a finite difference.
use forgebench_shared::data::{self, Split};
use forgebench_shared::experiment::{DatasetKind, ModelKind, Precision};
use forgebench_shared::optim::Optimizer;
use forgebench_worker::models::{draw_theta, script::ScriptNet, Net};
use forgebench_worker::optim::{self, OptState};
use forgebench_worker::update::Batch;
use std::path::PathBuf;
use tch::{Device, Tensor};

fn model(name: &str) -> PathBuf {
    data::bundled_dir().join("models").join(format!("{name}.pt"))
}

fn batch(kind: DatasetKind, b: usize) -> Batch {
    let ds = data::load(kind, &data::bundled_dir(), Split::Train).unwrap();
    let idx: Vec<usize> = (0..b).map(|i| i * 7 % ds.n).collect();
    Batch::gather(&ds, &idx, Device::Cpu, Precision::F32).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    Vec::<f32>::try_from(t).unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn torchscript_lenet_matches_the_builtin_bit_for_bit() {
    let script = Net::Script(Box::new(ScriptNet::load(&model("lenet5"), Device::Cpu).unwrap()));
    let builtin = Net::Builtin(ModelKind::Lenet5);
    assert_eq!(script.params(), builtin.params(), "parameter names and shapes");
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, 3, 0));
    let b = batch(DatasetKind::Mnist, 64);
    let (gs, gb) = (
        script.gradient(&theta, &b).unwrap(),
        builtin.gradient(&theta, &b).unwrap(),
    );
    let differ = bits(&gs).iter().zip(bits(&gb)).filter(|(a, b)| **a != *b).count();
    assert_eq!(differ, 0, "{differ} of {} gradient values differ", gs.numel());
    // The paper's update, and PyTorch's momentum SGD over three steps, bit for bit.
    assert_eq!(bits(&(&theta - &gs * 0.01)), bits(&(&theta - &gb * 0.01)));
    let opt = Optimizer::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 1e-4,
    };
    let params = builtin.params();
    let (ts, tb) = (theta.copy(), theta.copy());
    let (mut ss, mut sb) = (
        OptState::fresh(&opt, theta.numel(), Device::Cpu),
        OptState::fresh(&opt, theta.numel(), Device::Cpu),
    );
    for _ in 0..3 {
        let g = script.gradient(&ts, &b).unwrap();
        optim::step(&opt, &params, &ts, &g, &mut ss, 0.01).unwrap();
        let g = builtin.gradient(&tb, &b).unwrap();
        optim::step(&opt, &params, &tb, &g, &mut sb, 0.01).unwrap();
    }
    assert_eq!(bits(&ts), bits(&tb), "three momentum steps");
}

#[test]
fn residual_cnn_and_transformer_gradients_agree_with_finite_differences() {
    for (name, kind) in [
        ("resnet20", DatasetKind::Cifar10),
        ("row-transformer", DatasetKind::Mnist),
    ] {
        let net = ScriptNet::load(&model(name), Device::Cpu).unwrap();
        let b = batch(kind, 16);
        // theta_0: the file's own (PyTorch's default initialisation).
        let dim = net.dim() as i64;
        let theta = net.theta().unwrap();
        let g = net.gradient(&theta, &b).unwrap();
        assert_eq!(g.size(), vec![dim], "{name}: gradient length");
        // Along the gradient's direction, in f64 arithmetic of the f32 losses: d/dh L(theta + h u) = |g|.
        let u = &g / g.norm().double_value(&[]);
        let loss = |t: &Tensor| {
            net.set_theta(t).unwrap();
            let logits = net.forward(&b.x).unwrap();
            forgebench_worker::update::cross_entropy(&logits, &b.y)
                .unwrap()
                .double_value(&[])
        };
        let h = 1e-2;
        let fd = (loss(&(&theta + &u * h)) - loss(&(&theta - &u * h))) / (2.0 * h);
        let analytic = g.norm().double_value(&[]);
        assert!(
            (fd - analytic).abs() <= 0.05 * analytic,
            "{name}: finite difference {fd:e}, autograd {analytic:e}"
        );
    }
}

#[test]
fn torchscript_shuffle_errors_match_the_builtin_and_the_command_reports_them() {
    use forgebench_shared::jobs::ShuffleSpec;
    use forgebench_worker::shuffle;
    let ds = data::load(DatasetKind::Mnist, &data::bundled_dir(), Split::Train).unwrap();
    let spec = ShuffleSpec {
        model: ModelKind::Lenet5,
        dataset: DatasetKind::Mnist,
        batch_size: 64,
        eta: 0.01,
        shuffles: 4,
        seed: 2,
    };
    let prov = forgebench_shared::provenance::Provenance {
        code_version: forgebench_shared::provenance::code_version(),
        profile: forgebench_shared::profile::DeviceProfile::cpu("test"),
        fingerprint: forgebench_worker::fingerprint::collect(),
        seeds: vec![],
    };
    let builtin = shuffle::run(&spec, &ds, Device::Cpu, prov).unwrap();
    // The same batch, orders and theta through the TorchScript copy: the same errors, bit for bit.
    let script = Net::Script(Box::new(ScriptNet::load(&model("lenet5"), Device::Cpu).unwrap()));
    let theta = Tensor::from_slice(&draw_theta(ModelKind::Lenet5, spec.seed, 0));
    let idx = shuffle::batch_indices(&spec, ds.n);
    let errors = shuffle::errors(&script, &theta, &ds, &idx, (spec.eta, spec.shuffles, spec.seed)).unwrap();
    assert_eq!(errors, builtin.errors);
    assert!(errors.iter().any(|e| e.l2 > 0.0), "{errors:?}");
    // `shuffle --model FILE.pt` runs at the file's own parameters and records the file's identity.
    let out = std::env::temp_dir().join(format!("fb-ts-shuffle-{}.json", std::process::id()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_forgebench-worker"))
        .env_remove("FORGEBENCH_PROFILE_JSON")
        .args(["shuffle", "--model", model("row-transformer").to_str().unwrap()])
        .args(["--batch-size", "32", "--shuffles", "3", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: forgebench_shared::torch_shuffle::TorchShuffleReport =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!((r.errors.len(), r.batch.len(), r.model.sha256.len()), (3, 32, 64));
    assert!(r.summary.l2.max > 0.0 && r.summary.rel.max < 1e-4, "{:?}", r.summary);
}
