//! A TorchScript model's replays into its cross-device matrix, one cell per (writer, verifier) as they arrive.
use crate::report::{Named, Results};
use forgebench_shared::jobs::TorchSpec;
use forgebench_shared::torchrun::{TorchMatrix, TorchRunReport};

/// Files `r`, the replay on device `verifier` of device `writer`'s log of `spec`, in its matrix (created at its
/// first cell). Devices are named by their job-id keys, so two devices of one profile stay two rows.
pub(super) fn put(results: &mut Results, spec: &TorchSpec, (writer, verifier): (&str, &str), r: &TorchRunReport) {
    // The sweep's job ids name the run the same way.
    let name = crate::report::safe_name(&spec.tag());
    let i = match results.torch.iter().position(|m| m.name == name) {
        Some(i) => i,
        None => {
            // The matrix names the file the sweep gave; a replay names its own copy of it.
            let mut model = r.model.clone();
            model.file = spec.model.clone();
            let m = TorchMatrix::empty(
                model,
                spec.optimizer.clone(),
                r.dataset.clone(),
                spec.steps,
                spec.batch_size,
            );
            results.torch.push(Named::new(name, m));
            results.torch.len() - 1
        }
    };
    results.torch[i].value.put(writer, verifier, r);
}
