//! Smoke test of the Multi30k recipe: `scripts/train-multi30k.sh` end to end (corpus copy, training under a
//! budget, resume of an existing run, weight averaging, checkpoints and length penalty chosen on val, test-set evaluation
//! greedy and beam 5, scores file, heatmaps with their gallery) on a 500-pair slice of Multi30k with a tiny
//! model and a few steps. The slice is cut at test time from `../shared/corpora/multi30k` (or
//! `NMT_MULTI30K_DIR`); Multi30k itself is never part of the repository.
mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines of each split in the slice.
const SLICE: [(&str, usize); 3] = [("train", 500), ("val", 40), ("test_2016_flickr", 40)];

/// Multi30k: `NMT_MULTI30K_DIR`, or `../shared/corpora/multi30k` next to the crate. The test is
/// `#[ignore]`d, so a plain `cargo test` reports it ignored; `scripts/test.sh` runs it
/// (`--include-ignored`) and it fails there when the corpus is missing.
fn multi30k() -> PathBuf {
    let dir = std::env::var_os("NMT_MULTI30K_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/multi30k"));
    assert!(dir.join("train.de").is_file(), "Multi30k not found at {} (set NMT_MULTI30K_DIR)", dir.display());
    dir
}

fn recipe(slice: &Path, work: &Path, sets: &[&str]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(root.join("scripts/train-multi30k.sh"));
    cmd.args(["de", "en", "--out"]).arg(work.join("run")).arg("--data").arg(work.join("data"));
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.env("NMT_CORPUS_DIR", slice)
        .env("NMT_BIN", env!("CARGO_BIN_EXE_nmt"))
        .env("NMT_THREADS", "1")
        .env("NMT_HEATMAP_LINES", "3");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "recipe failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
#[ignore = "needs Multi30k at ../shared/corpora/multi30k or NMT_MULTI30K_DIR"]
fn the_multi30k_recipe_runs_end_to_end_on_a_500_pair_slice() {
    let full = multi30k();
    let work = tempfile::tempdir().unwrap();
    let slice = work.path().join("slice");
    std::fs::create_dir(&slice).unwrap();
    for (split, n) in SLICE {
        for lang in ["de", "en", "fr"] {
            let name = format!("{split}.{lang}");
            let text = std::fs::read_to_string(full.join(&name)).unwrap();
            let lines: String = text.lines().take(n).map(|l| format!("{l}\n")).collect();
            std::fs::write(slice.join(&name), lines).unwrap();
        }
    }
    let tiny = [
        "model.emb_size=16",
        "model.hidden_size=32",
        "data.vocab_size=300",
        "train.batch_size=32",
        "train.max_steps=6",
        "train.valid_every=3",
        "train.keep_snapshots=3",
    ];
    recipe(&slice, work.path(), &tiny);
    let run = work.path().join("run");
    let scores = std::fs::read_to_string(run.join("test-scores.txt")).unwrap();
    for want in ["beam 1", "beam 5", "BLEU", "chrF", "lowercased"] {
        assert!(scores.contains(want), "test-scores.txt lacks {want:?}:\n{scores}");
    }
    let choice = std::fs::read_to_string(run.join("val-choice.txt")).unwrap();
    // Validations at steps 3 and 6 kept two snapshots: one average (k = 2) is tried.
    let tried = |prefix: &str| choice.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(tried("greedy, checkpoint "), 2, "best and the average of 2:\n{choice}");
    // The run ends with a validation (step 6); when it was the best one, `last` holds the same weights as
    // `best` and beam 5 does not decode it again.
    let valid = cli_support::records(&run.join("metrics.jsonl"), "valid");
    let last_is_best = valid.last().unwrap()["best"].as_bool().unwrap();
    assert_eq!(choice.contains("last: the same weights as best (step 6)"), last_is_best, "{choice}");
    let checkpoints = if last_is_best { 2 } else { 3 };
    assert_eq!(tried("beam 5, checkpoint "), 3 * checkpoints, "{checkpoints} checkpoints × 3 penalties:\n{choice}");
    assert_eq!(tried("beam 5, checkpoint last,") == 0, last_is_best, "{choice}");
    let chosen = |prefix: &str| choice.lines().find_map(|l| l.strip_prefix(prefix)).expect(prefix).to_string();
    let greedy = chosen("greedy chosen: ");
    assert!(["best", "averaged"].contains(&greedy.as_str()), "{choice}");
    let beam = chosen("beam 5 chosen: ");
    let (ckpt, lp) = beam.split_once(' ').expect("checkpoint and length penalty");
    assert!(["best", "last", "averaged"].contains(&ckpt) && ["1.0", "1.6", "2.2"].contains(&lp), "{choice}");
    assert!(scores.contains(&format!("beam 1 ({greedy} checkpoint, chosen on val)")), "{scores}");
    assert!(scores.contains(&format!("{ckpt} checkpoint, length penalty {lp}, chosen on val")), "{scores}");
    for beam in [1, 5] {
        let hyp = std::fs::read_to_string(run.join(format!("test_2016_flickr.beam{beam}.en"))).unwrap();
        assert_eq!(hyp.lines().count(), 40, "beam {beam}: one translation per test line");
    }
    let pngs = std::fs::read_dir(run.join("heatmaps"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(pngs, 3, "one heatmap per first test line");
    assert!(run.join("heatmaps/index.html").is_file());

    // Run again into the same directory with a larger step limit: the recipe resumes the run.
    let out = recipe(&slice, work.path(), &["train.max_steps=9"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("resuming"), "second run did not resume:\n{log}");
    let validated: Vec<u64> =
        cli_support::records(&run.join("metrics.jsonl"), "valid").iter().map(|v| v["step"].as_u64().unwrap()).collect();
    assert_eq!(validated, [3, 6, 9], "validations of the first run and the resumed one");
    let choice = std::fs::read_to_string(run.join("val-choice.txt")).unwrap();
    assert!(choice.contains("averaged (newest 3 snapshots)"), "three snapshots after the resumed run:\n{choice}");
}
