//! `explain`: LeNet-5's step traced in this machine's first profile (cpu-avx512, or cpu-compat without AVX-512) and cpu-default (each its own process) parts at its first
//! convolution in the f32 arm; in the exact arm the f64 values part there too, by a few units of the site's f64
//! resolution, far inside the rounding tolerance, and the rounded results agree.
use std::path::PathBuf;
use std::process::Command;

fn explain(arith: &str) -> serde_json::Value {
    let first = forgebench_shared::profile::default_cpu_profiles().remove(0).name;
    let pair = format!("{first},cpu-default");
    let out: PathBuf = std::env::temp_dir().join(format!("fb-explain-{}-{arith}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_forgebench-worker"))
        .args(["explain", "--model", "lenet5", "--batch-size", "100", "--seed", "1"])
        .args(["--pair", &pair, "--arithmetic", arith])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "explain failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("| conv1.forward |"), "{text}");
    serde_json::from_str(&std::fs::read_to_string(out.join("explain.json")).unwrap()).unwrap()
}

#[test]
fn lenet_parts_at_conv1_between_the_first_profile_and_default() {
    let e = explain("f32");
    assert_eq!(e["first_differing"], "conv1.forward", "{e}");
    let sites = e["sites"].as_array().unwrap();
    let last = sites.last().unwrap();
    assert_eq!(last["site"], "update");
    assert!(last["differing"].as_u64().unwrap() > 0, "the f32 results agree: {last}");

    let x = explain("exact");
    let worst = |key: &str| {
        x["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[key].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    assert!(
        worst("linf_f64_units") > 0.0 && worst("over_tolerance") < 1.0 / 16.0,
        "largest f64 difference {} units, {} of the writer's tolerance",
        worst("linf_f64_units"),
        worst("over_tolerance")
    );
    // The f64 values differ on the way; rounded, every gradient agrees, so the update's inputs are identical.
    let upd = x["sites"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&upd["site"], &upd["differing"]),
        (&"update".into(), &0.into()),
        "{upd}"
    );
}
