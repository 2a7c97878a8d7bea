//! `nmt train --resume` continues exactly: the loss trajectory of an interrupted and resumed run equals
//! the uninterrupted one step by step (CPU, one thread, fixed seed, dropout on), whether the run was
//! stopped by its step limit (mid-epoch or exactly at an epoch's end) or by SIGINT.
mod cli_support;

use cli_support::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Dropout on so that restoring the random state matters; validation every step with LR decay on plateau
/// so that the schedule's state matters too; no early stopping.
const SETTINGS: &[&str] = &["model.dropout=0.3", "train.valid_every=1", "train.patience=0", "train.lr_patience=2"];

fn settings_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    SETTINGS.iter().chain(extra).copied().collect()
}

fn assert_same_trajectory(a: &[(u64, f64)], b: &[(u64, f64)]) {
    assert_eq!(a.len(), b.len(), "different numbers of logged steps:\n{a:?}\n{b:?}");
    for ((sa, la), (sb, lb)) in a.iter().zip(b) {
        assert_eq!(sa, sb, "step numbers differ");
        assert!((la - lb).abs() <= 1e-6, "step {sa}: loss {la} uninterrupted vs {lb} resumed");
    }
}

/// The (step, epoch) pairs of a metrics file's train records.
fn epochs(metrics: &std::path::Path) -> Vec<(u64, u64)> {
    records(metrics, "train").iter().map(|v| (v["step"].as_u64().unwrap(), v["epoch"].as_u64().unwrap())).collect()
}

/// `nmt train --out OUT --resume` logging every step, with `sets`.
fn resume(ws: &Workspace, out: &str, sets: &[&str]) -> std::process::Output {
    let mut cmd = ws.nmt(&["train", "--out", out, "--resume", "--log-every", "1"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    ok(&mut cmd)
}

/// (step, lr) of the validations in a `metrics.jsonl`.
fn validation_lrs(metrics: &std::path::Path) -> Vec<(u64, f64)> {
    records(metrics, "valid").iter().map(|v| (v["step"].as_u64().unwrap(), v["lr"].as_f64().unwrap())).collect()
}

#[test]
fn resume_after_a_stop_between_validations_keeps_the_uninterrupted_schedule() {
    // Validation every 4 steps and the LR halved after one validation without progress: the stop at step
    // 6 validates once more (to keep the best weights), which must not move the resumed run's schedule.
    let ws = Workspace::new(64);
    let sets = |steps: &'static str| settings_with(&["train.valid_every=4", "train.lr_patience=1", steps]);
    ws.train("a", &sets("train.max_steps=16"));
    ws.train("b", &sets("train.max_steps=6"));
    resume(&ws, "b", &["train.max_steps=16"]);
    let (a, b) = (ws.path("a/metrics.jsonl"), ws.path("b/metrics.jsonl"));
    assert_eq!(train_losses(&a).len(), 16);
    assert_same_trajectory(&train_losses(&a), &train_losses(&b));
    let scheduled: Vec<(u64, f64)> = validation_lrs(&b).into_iter().filter(|(step, _)| step % 4 == 0).collect();
    assert_eq!(validation_lrs(&a), scheduled, "the LR at each scheduled validation");
    assert!(validation_lrs(&b).iter().any(|&(step, _)| step == 6), "the stop at step 6 validated");
}

#[test]
fn resume_after_a_step_limit_mid_epoch_reproduces_the_uninterrupted_losses_across_epochs() {
    let ws = Workspace::new(64);
    ws.train("a", &settings_with(&["train.max_steps=12"]));
    ws.train("b", &settings_with(&["train.max_steps=6"]));
    resume(&ws, "b", &["train.max_steps=12"]);
    let (a, b) = (train_losses(&ws.path("a/metrics.jsonl")), train_losses(&ws.path("b/metrics.jsonl")));
    assert_eq!(a.len(), 12);
    // 64 pairs in batches of 16: 12 steps span three epochs, so the resumed half crosses epoch boundaries.
    let e = epochs(&ws.path("a/metrics.jsonl"));
    assert!(e.last().unwrap().1 > e[6].1, "the resumed part must cross an epoch boundary: {e:?}");
    assert_same_trajectory(&a, &b);
    assert_eq!(
        std::fs::read(ws.path("a/best.safetensors")).unwrap(),
        std::fs::read(ws.path("b/best.safetensors")).unwrap(),
        "the resumed run's best weights differ"
    );
}

#[test]
fn resume_exactly_at_an_epoch_end_reproduces_the_uninterrupted_losses() {
    let ws = Workspace::new(64);
    ws.train("a", &settings_with(&["train.max_steps=10"]));
    let e = epochs(&ws.path("a/metrics.jsonl"));
    // The last step of epoch 1.
    let end = e.windows(2).find(|w| w[0].1 != w[1].1).map(|w| w[0].0).unwrap();
    let first = format!("train.max_steps={end}");
    ws.train("b", &settings_with(&[first.as_str()]));
    resume(&ws, "b", &["train.max_steps=10"]);
    assert_same_trajectory(&train_losses(&ws.path("a/metrics.jsonl")), &train_losses(&ws.path("b/metrics.jsonl")));
}

#[test]
fn resume_of_a_run_already_at_its_step_limit_takes_no_further_step() {
    let ws = Workspace::new(64);
    ws.train("a", &settings_with(&["train.max_steps=3"]));
    let before = std::fs::read(ws.path("a/last.safetensors")).unwrap();
    let out = resume(&ws, "a", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after 3 steps"), "{err}");
    assert_eq!(train_losses(&ws.path("a/metrics.jsonl")).len(), 3);
    let after = safetensors_state(&std::fs::read(ws.path("a/last.safetensors")).unwrap());
    assert_eq!(after["step"], 3);
    assert_eq!(safetensors_state(&before)["step"], 3);
}

/// The training state JSON stored in a `last.safetensors`' metadata.
fn safetensors_state(bytes: &[u8]) -> serde_json::Value {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    serde_json::from_str(&meta.metadata().as_ref().unwrap()[nmt::checkpoint::STATE_KEY]).unwrap()
}

/// Starts training into `out` (validation every `valid_every` steps, no step limit), sends `signal` after
/// the `validations`-th validation and waits. → whether it exited 0, and what it printed after the signal.
fn interrupt(ws: &Workspace, out: &str, valid_every: &str, validations: usize, signal: i32) -> (bool, String) {
    let sets = settings_with(&[valid_every, "train.max_steps=100000", "train.max_epochs=0"]);
    let mut child = ws.train_cmd(out, &sets).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    for line in lines.by_ref() {
        if line.unwrap().starts_with("valid step") {
            seen += 1;
            if seen == validations {
                break;
            }
        }
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    (child.wait().unwrap().success(), rest.join("\n"))
}

#[test]
fn sigint_saves_last_exits_zero_says_how_to_resume_and_resume_continues_exactly() {
    let ws = Workspace::new(64);
    // Interrupt once training is well under way (after the third validation).
    let (success, rest) = interrupt(&ws, "b", "train.valid_every=3", 3, libc::SIGINT);
    assert!(success, "SIGINT must exit 0:\n{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    let msg = rest.lines().find(|l| l.contains("interrupted at step")).unwrap_or_else(|| panic!("no message:\n{rest}"));
    assert!(msg.contains("--resume") && msg.contains("last.safetensors"), "{msg}");
    let step: u64 = msg.split("interrupted at step ").nth(1).unwrap().split(':').next().unwrap().parse().unwrap();
    assert!(step >= 9, "{msg}");
    loads(&ws, &ws.path("b"), "last").unwrap();

    let total = format!("train.max_steps={}", step + 4);
    resume(&ws, "b", &[&total, "train.max_epochs=0"]);
    ws.train("a", &settings_with(&["train.valid_every=3", "train.max_epochs=0", total.as_str()]));
    let (a, b) = (train_losses(&ws.path("a/metrics.jsonl")), train_losses(&ws.path("b/metrics.jsonl")));
    assert_eq!(a.len() as u64, step + 4);
    assert_same_trajectory(&a, &b);
}

#[test]
fn sigterm_also_saves_last_and_exits_zero() {
    let ws = Workspace::new(64);
    let (success, rest) = interrupt(&ws, "b", "train.valid_every=2", 1, libc::SIGTERM);
    assert!(success, "SIGTERM must exit 0:\n{rest}");
    assert!(rest.lines().any(|l| l.contains("interrupted at step") && l.contains("--resume")), "{rest}");
    loads(&ws, &ws.path("b"), "last").unwrap();
}

#[test]
fn a_resumed_run_counts_its_earlier_minutes_against_max_minutes() {
    // train.max_minutes is the budget of all the training, like max_steps: a resumed run whose earlier
    // minutes already exceed it takes no further step.
    let ws = Workspace::new(64);
    ws.train("b", &settings_with(&["train.max_steps=3"]));
    resume(&ws, "b", &["train.max_steps=0", "train.max_minutes=1e-9"]);
    assert_eq!(train_losses(&ws.path("b/metrics.jsonl")).len(), 3, "no step after the minute budget");
}

#[test]
fn the_budget_anneal_lowers_the_learning_rate_linearly_over_the_last_steps() {
    // 8 steps, the last half annealed from 1e-3 to min_lr = 1e-5: step k runs at progress (k − 1)/8
    // (lr_decay = 1: no plateau decay in between).
    let ws = Workspace::new(64);
    let sets =
        ["train.max_steps=8", "train.decay_fraction=0.5", "train.lr=0.001", "train.lr_decay=1", "train.min_lr=0.00001"];
    ws.train("a", &settings_with(&sets));
    let lrs: Vec<f64> =
        records(&ws.path("a/metrics.jsonl"), "train").iter().map(|v| v["lr"].as_f64().unwrap()).collect();
    let want: Vec<f64> = (1..=8)
        .map(|k| {
            let left = ((1.0 - (k - 1) as f64 / 8.0) / 0.5).min(1.0);
            1e-5 + (1e-3 - 1e-5) * left
        })
        .collect();
    assert_eq!(lrs.len(), 8);
    for (k, (got, want)) in lrs.iter().zip(&want).enumerate() {
        assert!((got - want).abs() < 1e-12, "step {}: lr {got}, want {want}", k + 1);
    }
}
