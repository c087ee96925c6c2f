//! The watcher against a fake Slurm and a real (in-memory) ledger: state changes, resubmission while work is
//! left (once per lost job, within the limit), cancellation once the sweep is complete.
use crate::error::Result;
use crate::ledger::Ledger;
use crate::slurm::{poll, poll_all, Event, SlurmCtl, SlurmJobId, SlurmState, WatchPolicy};
use forgebench_shared::config::SweepConfig;
use forgebench_shared::ids::SweepId;
use forgebench_shared::profile::DeviceProfile;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Slurm as a table of job states; submissions get ids from 200 up.
#[derive(Default)]
struct FakeSlurm {
    states: RefCell<HashMap<String, SlurmState>>,
    submitted: RefCell<Vec<PathBuf>>,
    cancelled: RefCell<Vec<SlurmJobId>>,
    next: Cell<u32>,
}

impl FakeSlurm {
    fn set(&self, job: &str, s: SlurmState) {
        self.states.borrow_mut().insert(job.to_owned(), s);
    }
}

impl SlurmCtl for FakeSlurm {
    fn submit(&self, script: &Path) -> Result<SlurmJobId> {
        let id = format!("{}", 200 + self.next.get());
        self.next.set(self.next.get() + 1);
        self.submitted.borrow_mut().push(script.to_path_buf());
        self.set(&id, SlurmState::Queued);
        Ok(SlurmJobId(id))
    }
    fn state(&self, job: &SlurmJobId) -> Result<SlurmState> {
        Ok(self.states.borrow().get(&job.0).copied().unwrap_or(SlurmState::Gone))
    }
    fn cancel(&self, jobs: &[SlurmJobId]) -> Result<()> {
        for j in jobs {
            self.set(&j.0, SlurmState::Cancelled);
        }
        self.cancelled.borrow_mut().extend(jobs.iter().cloned());
        Ok(())
    }
}

/// A one-profile reproduction sweep (a log job and its verify job), allowed `attempts` attempts per job.
fn sweep(l: &Ledger, attempts: u32) -> (SweepId, DeviceProfile) {
    let text = "name = \"t\"\nexperiments = [\"reproduction\"]\nmodels = [\"logreg\"]\nbatch_sizes = [10]\n\
                seeds = [0]\ntriples = 2\ndevices = \"all\"\nverification = \"exhaustive\"\n";
    let cfg = SweepConfig::from_toml_str(text).expect("valid");
    let profiles = vec![DeviceProfile::cpu("a")];
    let (id, _) = crate::testing::record_sweep(l, &cfg, &profiles, attempts);
    (id, profiles[0].clone())
}

/// Ends the sweep: its log job fails for good, and its verify job with it.
fn finish(l: &Ledger, p: &DeviceProfile) {
    let fp = crate::testing::fingerprint("cpu");
    let (w, device) = l.register_worker("w", p, &fp).expect("register");
    let j = l.lease_next(&w, &device, 10_000).expect("lease").expect("a job");
    l.report(&w, &j.job_id, 1, Err("boom")).expect("report");
}

const POLICY: WatchPolicy = WatchPolicy { resubmit_limit: 2 };

#[test]
fn lost_jobs_are_resubmitted_once_each_within_the_limit() {
    let l = Ledger::in_memory().expect("ledger");
    let (id, _) = sweep(&l, 3);
    let slurm = FakeSlurm::default();
    let script = PathBuf::from("/runs/slurm/slurm-100.sbatch");
    l.record_slurm_job(&id, &SlurmJobId("100".into()), &script)
        .expect("record");
    slurm.set("100", SlurmState::Running);
    let ev = poll(&l, &slurm, &id, POLICY).expect("poll");
    assert!(
        matches!(
            &ev[..],
            [Event::Changed {
                from: SlurmState::Queued,
                to: SlurmState::Running,
                ..
            }]
        ),
        "{ev:?}"
    );
    assert!(
        poll(&l, &slurm, &id, POLICY).expect("poll").is_empty(),
        "nothing changed"
    );

    slurm.set("100", SlurmState::Preempted);
    let ev = poll(&l, &slurm, &id, POLICY).expect("poll");
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(&ev[1], Event::Resubmitted { old, new, .. } if old.0 == "100" && new.0 == "200"));
    assert_eq!(
        *slurm.submitted.borrow(),
        std::slice::from_ref(&script),
        "the same script again"
    );
    assert!(
        poll(&l, &slurm, &id, POLICY).expect("poll").is_empty(),
        "never twice for one job"
    );

    slurm.set("200", SlurmState::Cancelled);
    let ev = poll_all(&l, &slurm, POLICY).expect("poll");
    assert!(
        matches!(ev.last(), Some(Event::Resubmitted { new, .. }) if new.0 == "201"),
        "{ev:?}"
    );
    slurm.set("201", SlurmState::Failed);
    let ev = poll(&l, &slurm, &id, POLICY).expect("poll");
    assert!(matches!(ev.last(), Some(Event::GaveUp { limit: 2, .. })), "{ev:?}");
    assert!(
        poll(&l, &slurm, &id, POLICY).expect("poll").is_empty(),
        "gives up once, quietly after"
    );
    assert_eq!(slurm.submitted.borrow().len(), 2);
    let rows = l.slurm_jobs(Some(&id)).expect("rows");
    let states: Vec<_> = rows.iter().map(|r| (r.job.0.as_str(), r.state)).collect();
    assert_eq!(
        states,
        [
            ("100", SlurmState::Preempted),
            ("200", SlurmState::Cancelled),
            ("201", SlurmState::Failed)
        ]
    );
    assert_eq!(l.slurm_resubmissions(&id).expect("count"), 2);
}

#[test]
fn complete_sweep_cancels_its_jobs_and_resubmits_nothing() {
    let l = Ledger::in_memory().expect("ledger");
    let (id, p) = sweep(&l, 1);
    let slurm = FakeSlurm::default();
    for (job, state) in [
        ("1", SlurmState::Running),
        ("2", SlurmState::Queued),
        ("3", SlurmState::Failed),
    ] {
        l.record_slurm_job(&id, &SlurmJobId(job.into()), Path::new("/s.sbatch"))
            .expect("record");
        slurm.set(job, state);
    }
    finish(&l, &p);
    assert!(l.sweep_status(&id).expect("status").complete());
    let ev = poll(&l, &slurm, &id, POLICY).expect("poll");
    assert!(
        matches!(ev.last(), Some(Event::Stopped { jobs, .. }) if jobs.len() == 2),
        "{ev:?}"
    );
    assert_eq!(slurm.cancelled.borrow().len(), 2);
    assert!(slurm.submitted.borrow().is_empty(), "a complete sweep needs no workers");
    let rows = l.slurm_jobs(Some(&id)).expect("rows");
    assert!(rows.iter().all(|r| !r.state.is_active()));
    assert_eq!(rows.iter().filter(|r| r.state == SlurmState::Stopped).count(), 2);
    assert!(poll(&l, &slurm, &id, POLICY).expect("poll").is_empty());
}

#[test]
fn stopped_jobs_and_unsubmitted_sweeps_are_left_alone() {
    let l = Ledger::in_memory().expect("ledger");
    let (id, _) = sweep(&l, 3);
    let slurm = FakeSlurm::default();
    let job = SlurmJobId("7".into());
    l.record_slurm_job(&id, &job, Path::new("/s.sbatch")).expect("record");
    assert!(l.mark_slurm_job(&id, &job, SlurmState::Stopped).expect("mark"));
    assert!(
        poll(&l, &slurm, &id, POLICY).expect("poll").is_empty(),
        "stopped on purpose"
    );
    assert!(slurm.submitted.borrow().is_empty());

    let unknown = SweepId("not-submitted".into());
    l.record_slurm_job(&unknown, &SlurmJobId("8".into()), Path::new("/s.sbatch"))
        .expect("record");
    let ev = poll(&l, &slurm, &unknown, POLICY).expect("poll");
    assert!(
        matches!(
            &ev[..],
            [Event::Changed {
                to: SlurmState::Gone,
                ..
            }]
        ),
        "{ev:?}"
    );
    assert!(slurm.submitted.borrow().is_empty(), "no sweep, no decision");
    assert!(!l
        .mark_slurm_job(&id, &SlurmJobId("9".into()), SlurmState::Failed)
        .expect("mark"));
}
