//! Local search never ends above its greedy start, and improves on it on a real LeNet step.
mod forge_common;

use forge_common::{logged_step, mnist};
use forgebench_shared::experiment::{ModelKind, Precision};
use forgebench_shared::jobs::SearchNorm;
use forgebench_shared::rng::PortableRng;
use forgebench_worker::forge::step::{forge_step, SearchParams};
use tch::Device;

fn params(local_moves: usize, norm: SearchNorm) -> SearchParams {
    SearchParams {
        batch_size: 10,
        pool: 120,
        candidates: 200,
        keep: 3,
        local_moves,
        norm,
        greedy_deadline: None,
        local_deadline: None,
        scoring: None,
    }
}

#[test]
fn local_search_never_ends_above_its_greedy_start() {
    let ds = mnist();
    for (model, seed) in [(ModelKind::Logreg, 3), (ModelKind::Lenet5, 4)] {
        let (target, exclude) = logged_step(model, &ds, 10, seed, Precision::F32);
        let mut rng = PortableRng::new(seed);
        let out = forge_step(
            model,
            &target,
            &ds,
            &exclude,
            &params(50, SearchNorm::L2),
            &mut rng,
            Device::Cpu,
            0,
        )
        .unwrap();
        let local = out.step.local.expect("local search ran");
        assert!(
            out.step.moves > 0,
            "{model}: no improving swap found from a random greedy start"
        );
        assert!(
            out.local_trace.windows(2).all(|w| w[1] < w[0]),
            "{model}: trace not decreasing {:?}",
            out.local_trace
        );
        assert!(
            local.l2 < out.step.greedy.l2,
            "{model}: local {:e} not below greedy {:e} after {} moves",
            local.l2,
            out.step.greedy.l2,
            out.step.moves
        );
        assert!(
            out.step.batch.iter().all(|i| !exclude.contains(i)),
            "{model}: forged batch reuses an original sample"
        );
        let mut uniq = out.step.batch.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 10, "{model}: forged batch repeats a sample");
    }
}

#[test]
fn linf_greedy_minimises_linf() {
    let ds = mnist();
    let (target, exclude) = logged_step(ModelKind::Logreg, &ds, 10, 9, Precision::F32);
    let run = |norm| {
        let mut rng = PortableRng::new(1);
        forge_step(
            ModelKind::Logreg,
            &target,
            &ds,
            &exclude,
            &params(0, norm),
            &mut rng,
            Device::Cpu,
            0,
        )
        .unwrap()
    };
    let (l2, linf) = (run(SearchNorm::L2), run(SearchNorm::Linf));
    // Same pool and candidates: each search's pick is at least as good as the other's in its own norm.
    assert!(
        linf.step.greedy.linf <= l2.step.greedy.linf,
        "{:e} > {:e}",
        linf.step.greedy.linf,
        l2.step.greedy.linf
    );
    assert!(
        l2.step.greedy.l2 <= linf.step.greedy.l2,
        "{:e} > {:e}",
        l2.step.greedy.l2,
        linf.step.greedy.l2
    );
}
