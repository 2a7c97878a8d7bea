//! BPE-dropout (`data.bpe_dropout`): with p = 0 the dropout encoder gives exactly the tokenizer's ids
//! (the toy corpus here; Multi30k's training set in an ignored test that `scripts/test.sh` runs); with
//! p > 0 the ids change from seed to seed but decode to the same text; a run with dropout saves the same
//! tokenizers as one without, trains on other ids, and resumes exactly; bad values are refused by key.
mod cli_support;

use cli_support::*;
use nmt::data::corpus::Pair;
use nmt::data::prepare::{encode_pairs, read_filtered, train_tokenizers, DropoutEncoder};
use nmt::data::tokenizer::{Kind, Spec};
use std::path::{Path, PathBuf};

fn read_pairs(prefix: &Path, src: &str, tgt: &str) -> Vec<Pair> {
    read_filtered(prefix, src, tgt, "train").unwrap()
}

/// Tokenizers trained on `pairs` (BPE of `vocab`), then the pairs encoded by the tokenizers and by the
/// dropout encoder with p = 0 under three seeds: all must be equal.
fn assert_zero_dropout_is_the_tokenizer(pairs: &[Pair], vocab: usize) {
    let spec = Spec { kind: Kind::Bpe, vocab_size: vocab, min_frequency: 2, lowercase: false };
    let (s, t) = train_tokenizers(pairs, &spec, false).unwrap();
    let (plain, kept, _) = encode_pairs(pairs, &s, &t, 200).unwrap();
    let encoder = DropoutEncoder::new(&s, &t, 0.0).unwrap();
    for seed in [0, 1, 99] {
        let (dropped, kept_too, _) = encoder.encode(pairs, 200, seed).unwrap();
        assert_eq!(kept_too.len(), kept.len());
        for (i, (a, b)) in plain.iter().zip(&dropped).enumerate() {
            assert_eq!((&a.src, &a.tgt), (&b.src, &b.tgt), "pair {i}: {:?}", kept[i]);
        }
    }
}

#[test]
fn zero_dropout_encodes_the_toy_corpus_as_the_tokenizer_does() {
    assert_zero_dropout_is_the_tokenizer(&read_pairs(&toy_dir().join("train"), "en", "fr"), 1000);
}

#[test]
#[ignore = "needs Multi30k at ../shared/corpora/multi30k or NMT_CORPUS_DIR"]
fn zero_dropout_encodes_multi30k_as_the_tokenizer_does() {
    let dir = std::env::var_os("NMT_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/multi30k"));
    assert!(dir.join("train.de").is_file(), "Multi30k not found at {} (set NMT_CORPUS_DIR)", dir.display());
    assert_zero_dropout_is_the_tokenizer(&read_pairs(&dir.join("train"), "de", "en"), 4000);
}

#[test]
fn dropout_changes_the_ids_with_the_seed_but_not_the_text() {
    let pairs: Vec<Pair> = read_pairs(&toy_dir().join("train"), "en", "fr").into_iter().take(300).collect();
    let spec = Spec { kind: Kind::Bpe, vocab_size: 400, min_frequency: 2, lowercase: false };
    let (s, t) = train_tokenizers(&pairs, &spec, false).unwrap();
    let encoder = DropoutEncoder::new(&s, &t, 0.1).unwrap();
    let (a, kept, _) = encoder.encode(&pairs, 500, 1).unwrap();
    let (b, _, _) = encoder.encode(&pairs, 500, 2).unwrap();
    assert_eq!(a, encoder.encode(&pairs, 500, 1).unwrap().0, "the same seed, the same ids");
    let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(differ * 4 >= a.len(), "p = 0.1 re-segments many pairs between seeds: {differ} of {}", a.len());
    let (plain, _, _) = encode_pairs(&kept, &s, &t, 500).unwrap();
    let longer: usize = a.iter().map(|e| e.tgt.len()).sum::<usize>() - plain.iter().map(|e| e.tgt.len()).sum::<usize>();
    assert!(longer > 0, "skipped merges make more, shorter pieces");
    for (e, p) in a.iter().zip(&kept) {
        assert_eq!(t.decode(&e.tgt).unwrap(), t.normalize(&p.tgt).unwrap());
        assert_eq!(s.decode(&e.src).unwrap(), s.normalize(&p.src).unwrap());
    }
}

#[test]
fn a_run_with_dropout_keeps_the_tokenizers_trains_on_other_ids_and_resumes_exactly() {
    let ws = Workspace::new(64);
    let dropout = ["data.bpe_dropout=0.2", "model.dropout=0.3"];
    let with = |steps: &'static str| dropout.iter().copied().chain([steps]).collect::<Vec<_>>();
    ws.train("plain", &["model.dropout=0.3", "train.max_steps=12"]);
    ws.train("a", &with("train.max_steps=12"));
    ws.train("b", &with("train.max_steps=6"));
    ok(&mut ws.nmt(&["train", "--out", "b", "--resume", "--log-every", "1", "--set", "train.max_steps=12"]));
    for file in ["tokenizer.src.json", "tokenizer.tgt.json"] {
        let read = |dir: &str| std::fs::read(ws.path(&format!("{dir}/{file}"))).unwrap();
        assert_eq!(read("plain"), read("a"), "{file}: BPE-dropout must not change the saved tokenizer");
    }
    let losses = |dir: &str| train_losses(&ws.path(&format!("{dir}/metrics.jsonl")));
    let (plain, a, b) = (losses("plain"), losses("a"), losses("b"));
    assert_eq!(a.len(), 12);
    assert_ne!(plain[0].1, a[0].1, "the first step already trains on dropout-encoded pairs");
    assert_eq!(a, b, "a run resumed at step 6 (mid-epoch 2 of 64 pairs in batches of 16) repeats the losses");
}

#[test]
fn bad_dropout_values_are_refused_naming_the_key() {
    let ws = Workspace::new(16);
    for (sets, words) in [
        (vec!["data.bpe_dropout=1.0"], "data.bpe_dropout must be in [0, 1), found 1"),
        (vec!["data.bpe_dropout=-0.1"], "data.bpe_dropout must be in [0, 1)"),
        (vec!["data.bpe_dropout=0.1", "data.tokenizer=\"word\""], "needs data.tokenizer = \"bpe\""),
    ] {
        let err = fails(&mut ws.train_cmd("m", &sets));
        assert!(err.contains(words), "{sets:?}: {err}");
        assert!(!ws.path("m").exists(), "{sets:?}: nothing is left behind");
    }
}
