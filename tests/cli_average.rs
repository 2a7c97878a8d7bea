//! Weight averaging: `train.keep_snapshots` keeps the last validations' weights, `nmt average` writes
//! their element-wise mean, and `--checkpoint averaged` translates with it.
mod cli_support;

use cli_support::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Every tensor of a safetensors file (f32), by name.
fn tensors(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (name, values)
        })
        .collect()
}

/// The names of the files in `model`/snapshots but hidden ones, sorted.
fn snapshot_names(ws: &Workspace, model: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ws.path(&format!("{model}/snapshots")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// `averaged` holds exactly the tensors of `a` (no optimizer state), each the element-wise mean of `a`'s
/// and `b`'s, and `a` and `b` differ (so the mean is neither of them).
fn assert_mean_of(averaged: &Path, a: &BTreeMap<String, Vec<f32>>, b: &BTreeMap<String, Vec<f32>>) {
    let averaged = tensors(averaged);
    assert_eq!(averaged.keys().collect::<Vec<_>>(), a.keys().filter(|n| !n.starts_with("adam.")).collect::<Vec<_>>());
    let mut differ = false;
    for (name, mean) in &averaged {
        for ((m, x), y) in mean.iter().zip(&a[name]).zip(&b[name]) {
            let expected = ((*x as f64 + *y as f64) / 2.0) as f32;
            assert!((m - expected).abs() <= 1e-7 * expected.abs().max(1.0), "{name}: {m} vs mean {expected}");
            differ |= x != y;
        }
    }
    assert!(differ, "the two weights files differ, so the mean is not one of them");
}

const SNAPSHOTS: &[&str] = &["train.valid_every=3", "train.max_steps=14", "train.keep_snapshots=3"];

#[test]
fn training_keeps_the_newest_snapshots_and_average_writes_their_mean() {
    let ws = Workspace::new(64);
    ws.train("m", SNAPSHOTS);
    // Validations at steps 3, 6, 9, 12 and at the stop (14); the newest three are kept.
    assert_eq!(
        snapshot_names(&ws, "m"),
        ["step-0000009.safetensors", "step-0000012.safetensors", "step-0000014.safetensors"]
    );
    let info = String::from_utf8(ok(&mut ws.nmt(&["info", "--model", "m"])).stdout).unwrap();
    assert!(info.contains("weight snapshots (for nmt average): steps 9, 12, 14"), "{info}");
    // The stop's snapshot holds the weights `last` holds.
    let last = tensors(&ws.path("m/last.safetensors"));
    for (name, values) in tensors(&ws.path("m/snapshots/step-0000014.safetensors")) {
        assert_eq!(last[&name], values, "{name}");
    }

    let out = ok(&mut ws.nmt(&["average", "--model", "m", "--last", "2"]));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("averaged 2 weights files") && said.contains("step-0000012") && said.contains("step-0000014"),
        "{said}"
    );
    let (a, b) = (
        tensors(&ws.path("m/snapshots/step-0000012.safetensors")),
        tensors(&ws.path("m/snapshots/step-0000014.safetensors")),
    );
    assert_mean_of(&ws.path("m/averaged.safetensors"), &a, &b);
    assert!(loads(&ws, &ws.path("m"), "averaged").is_ok());

    // Without --last: all three.
    let out = ok(&mut ws.nmt(&["average", "--model", "m"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("averaged 3 weights files"));
}

#[test]
fn average_from_named_files_takes_last_without_its_optimizer_state() {
    let ws = Workspace::new(64);
    ws.train("m", SNAPSHOTS);
    let earlier = "m/snapshots/step-0000012.safetensors";
    ok(&mut ws.nmt(&["average", "--model", "m", "--from", earlier, "--from", "m/last.safetensors"]));
    let (a, b) = (tensors(&ws.path(earlier)), tensors(&ws.path("m/last.safetensors")));
    assert!(b.keys().any(|n| n.starts_with("adam.")), "last holds the optimizer state");
    assert_mean_of(&ws.path("m/averaged.safetensors"), &a, &b);
    let err = fails(&mut ws.nmt(&["average", "--model", "m", "--from", "m/best.safetensors", "--last", "2"]));
    assert!(err.contains("--last") && err.contains("--from"), "{err}");
}

#[test]
fn a_resumed_run_replaces_snapshots_of_steps_it_redoes() {
    let ws = Workspace::new(64);
    ws.train("m", SNAPSHOTS);
    // A snapshot newer than `last`, as a run killed between the two writes would leave.
    std::fs::copy(ws.path("m/snapshots/step-0000014.safetensors"), ws.path("m/snapshots/step-0000099.safetensors"))
        .unwrap();
    // A killed snapshot write's temp file goes when the next run takes the lock; other files stay.
    let (temp, other) = ("m/snapshots/.step-0000015.safetensors.4242.tmp", "m/snapshots/.notes.txt.4242.tmp");
    std::fs::write(ws.path(temp), b"partial").unwrap();
    std::fs::write(ws.path(other), b"not ours").unwrap();
    // Validations at 15 and at the stop (16): 99 goes as soon as the run saves its next snapshot.
    ok(&mut ws.nmt(&["train", "--out", "m", "--resume", "--set", "train.max_steps=16"]));
    assert_eq!(
        snapshot_names(&ws, "m"),
        ["step-0000014.safetensors", "step-0000015.safetensors", "step-0000016.safetensors"]
    );
    assert!(!ws.path(temp).exists() && ws.path(other).exists());
}

#[test]
fn averaging_without_snapshots_is_an_error_that_says_how_to_get_them() {
    let ws = Workspace::new(64);
    ws.train("m", &["train.max_steps=3"]);
    let err = fails(&mut ws.nmt(&["average", "--model", "m"]));
    assert!(err.contains("no weight snapshots") && err.contains("train.keep_snapshots"), "{err}");
    let err = loads(&ws, &ws.path("m"), "averaged").unwrap_err();
    assert!(err.contains("averaged.safetensors is missing") && err.contains("nmt average"), "{err}");
    let err = fails(&mut ws.nmt(&["average", "--model", "m", "--last", "0"]));
    assert!(err.contains("--last"), "{err}");
}
