//! The Rust model computes PyTorch's numbers. Every file in tests/fixtures/model/ (written by
//! scripts/fixtures.py, which builds the same modules in PyTorch under the same parameter names) is
//! loaded through `nmt::checkpoint::load_weights` into a model built from the file's own config; the
//! same inputs must give the same outputs within 1e-5 (for teacher forcing, at the real target
//! positions, the only ones the Rust pass computes), attention weights must be exactly 0 at padded
//! source positions and their rows must sum to 1. The training loss (`nmt::train::batch_loss`, whose decoder
//! pass is the training path's own) is checked against PyTorch's cross-entropy too.

use nmt::checkpoint::load_weights;
use nmt::config::ModelConfig;
use nmt::data::batch::Batch;
use nmt::model::attention::Attention;
use nmt::model::decoder::DecoderState;
use nmt::model::Seq2Seq;
use nmt::train::batch_loss;
use std::collections::HashMap;
use std::path::PathBuf;
use tch::{nn, Device, Kind, Tensor};

/// Largest allowed difference from PyTorch's float64 answer.
const TOLERANCE: f64 = 1e-5;
/// Largest allowed distance of an attention row's sum from 1.
const ROW_SUM_TOLERANCE: f64 = 1e-6;

const MODEL_FIXTURES: [&str; 4] = [
    "model-bahdanau",
    "model-luong-input-feeding",
    "model-bahdanau-multihead-tied-no-bridge",
    "model-luong-no-feeding-scaled-dot-tied-unidirectional",
];

/// A fixture file: the config that builds the matching model, and its `in.*`/`out.*` tensors.
struct Fixture {
    name: String,
    path: PathBuf,
    cfg: ModelConfig,
    src_vocab: i64,
    tgt_vocab: i64,
}

/// The `fixture` metadata entry.
#[derive(serde::Deserialize)]
struct About {
    model_config: ModelConfig,
    src_vocab: i64,
    tgt_vocab: i64,
}

impl Fixture {
    fn open(name: &str) -> Fixture {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(format!("{name}.safetensors"));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/fixtures.py)", path.display()));
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let about: About = serde_json::from_str(&header.metadata().as_ref().unwrap()["fixture"]).unwrap();
        about.model_config.validate().unwrap();
        Fixture {
            name: name.to_string(),
            path,
            cfg: about.model_config,
            src_vocab: about.src_vocab,
            tgt_vocab: about.tgt_vocab,
        }
    }

    /// Loads the weights into `vs` (every variable must be in the file, under its Rust name, with its
    /// shape, and the file may hold nothing else) and returns the inputs and expected outputs.
    fn load(&self, vs: &nn::VarStore) -> Io {
        let (_, io) = load_weights(&self.path, vs, |n| n.starts_with("in.") || n.starts_with("out."))
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        Io { name: self.name.clone(), tensors: io }
    }
}

struct Io {
    name: String,
    tensors: HashMap<String, Tensor>,
}

impl Io {
    fn get(&self, key: &str) -> &Tensor {
        self.tensors.get(key).unwrap_or_else(|| panic!("{}: no tensor {key}", self.name))
    }

    fn ids(&self, key: &str) -> Tensor {
        self.get(key).to_kind(Kind::Int64)
    }

    fn mask(&self, key: &str) -> Tensor {
        self.get(key).ne(0.0)
    }

    fn close(&self, what: &str, got: &Tensor, key: &str) {
        assert_close(&format!("{}: {what}", self.name), got, self.get(key));
    }
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.size(), want.size(), "{what}: shape");
    let diff = f64::try_from((got.to_kind(Kind::Double) - want.to_kind(Kind::Double)).abs().max()).unwrap();
    assert!(diff <= TOLERANCE, "{what}: max |rust - pytorch| = {diff:e} > {TOLERANCE:e}");
}

/// weights: `[B, ..., S]`, mask: `[B, S]`: padded positions exactly 0, every row sums to 1.
fn assert_distribution(what: &str, weights: &Tensor, mask: &Tensor) {
    let mut m = mask.shallow_clone();
    while m.dim() < weights.dim() {
        m = m.unsqueeze(1);
    }
    let leaked = weights.masked_select(&m.logical_not().expand_as(weights));
    let most = f64::try_from(leaked.abs().max()).unwrap();
    assert_eq!(most, 0.0, "{what}: a padded position has weight {most:e}");
    let sums = weights.sum_dim_intlist(-1, false, Kind::Double);
    let off = f64::try_from((sums - 1.0).abs().max()).unwrap();
    assert!(off <= ROW_SUM_TOLERANCE, "{what}: a row sums to 1 ± {off:e}");
}

fn check_scorer(kind: &str) {
    tch::set_num_threads(1);
    let _guard = tch::no_grad_guard();
    let fx = Fixture::open(&format!("attention-{kind}"));
    assert_eq!(fx.cfg.attention.name(), kind, "the fixture is for another scorer");
    let vs = nn::VarStore::new(Device::Cpu);
    let attention = Attention::new(&(vs.root() / "attention"), &fx.cfg);
    let io = fx.load(&vs);
    let mask = io.mask("in.mask");
    let keys = attention.prepare(io.get("in.memory"), &mask);
    let att = attention.attend(io.get("in.query"), &keys);
    io.close("context", &att.context, "out.context");
    io.close("weights", &att.weights, "out.weights");
    assert_distribution(&format!("{kind} weights"), &att.weights, &mask);
    match (&att.head_weights, io.tensors.get("out.head_weights")) {
        (Some(heads), Some(_)) => {
            io.close("head weights", heads, "out.head_weights");
            assert_distribution(&format!("{kind} head weights"), heads, &mask);
        }
        (None, None) => {}
        (got, _) => panic!("{kind}: head weights returned: {}, expected: {}", got.is_some(), !got.is_some()),
    }
    // Keys read by 3 different query rows per memory row (beam search's hypotheses of one sentence)
    // give what the keys copied for every query row give.
    let (b, n, q) = (mask.size()[0], 3, io.get("in.query"));
    let queries = Tensor::stack(&[q.shallow_clone(), q * 0.5, q.neg()], 1).view([b * n, -1]);
    let each = Tensor::arange(b, (Kind::Int64, Device::Cpu)).repeat_interleave_self_int(n, 0, None);
    let shared = attention.attend(&queries, &keys.shared_by(n));
    let copied = attention.attend(&queries, &keys.select_rows(&each));
    assert_close(&format!("{kind}: shared keys, context"), &shared.context, &copied.context);
    assert_close(&format!("{kind}: shared keys, weights"), &shared.weights, &copied.weights);
    match (&shared.head_weights, &copied.head_weights) {
        (Some(s), Some(c)) => assert_close(&format!("{kind}: shared keys, head weights"), s, c),
        (s, c) => assert_eq!(s.is_some(), c.is_some(), "{kind}: shared keys, head weights"),
    }
}

#[test]
fn bahdanau_scorer_matches_pytorch() {
    check_scorer("bahdanau");
}

#[test]
fn luong_dot_scorer_matches_pytorch() {
    check_scorer("luong-dot");
}

#[test]
fn luong_general_scorer_matches_pytorch() {
    check_scorer("luong-general");
}

#[test]
fn luong_concat_scorer_matches_pytorch() {
    check_scorer("luong-concat");
}

#[test]
fn scaled_dot_scorer_matches_pytorch() {
    check_scorer("scaled-dot");
}

#[test]
fn multihead_scorer_matches_pytorch_with_per_head_weights() {
    check_scorer("multihead");
}

/// Builds each model fixture's model, loads its weights and runs `check` on it.
fn for_each_model(check: impl Fn(&Seq2Seq, &Io)) {
    tch::set_num_threads(1);
    let _guard = tch::no_grad_guard();
    for name in MODEL_FIXTURES {
        let fx = Fixture::open(name);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = Seq2Seq::new(&vs.root(), &fx.cfg, fx.src_vocab, fx.tgt_vocab);
        let io = fx.load(&vs);
        check(&model, &io);
    }
}

#[test]
fn encoder_memory_final_state_and_bridge_match_pytorch_on_a_padded_batch() {
    for_each_model(|model, io| {
        let (src, lengths) = (io.ids("in.src"), io.ids("in.lengths"));
        let enc = model.encoder.forward_t(&src, &lengths, false);
        io.close("encoder memory", &enc.memory, "out.memory");
        io.close("encoder final state", &enc.last, "out.last");
        let padded = enc.memory.masked_select(&src.eq(0).unsqueeze(2).expand_as(&enc.memory));
        assert_eq!(f64::try_from(padded.abs().max()).unwrap(), 0.0, "{}: memory leaks into padding", io.name);
        let encoded = model.encode(&src, &lengths, false);
        io.close("initial decoder state", &encoded.state.h, "out.h0");
        if let Some(feed) = &encoded.state.feed {
            assert_eq!(f64::try_from(feed.abs().max()).unwrap(), 0.0, "{}: the first input feed is zeros", io.name);
        }
    });
}

#[test]
fn one_decoder_step_from_a_given_state_matches_pytorch() {
    for_each_model(|model, io| {
        let src = io.ids("in.src");
        let keys = model.encode(&src, &io.ids("in.lengths"), false).keys;
        let feed = io.tensors.get("in.step_feed").map(|f| f.shallow_clone());
        assert_eq!(feed.is_some(), model.cfg.decoder.name() == "luong" && model.cfg.input_feeding);
        let state = DecoderState { h: io.get("in.step_h").shallow_clone(), feed };
        let step = model.decoder.step(&io.ids("in.step_y"), &state, &keys);
        io.close("step logits", &step.logits, "out.step_logits");
        io.close("step state", &step.state.h, "out.step_h");
        match &step.state.feed {
            Some(f) => io.close("step input feed", f, "out.step_feed"),
            None => assert!(!io.tensors.contains_key("out.step_feed"), "{}: input feed missing", io.name),
        }
        io.close("step weights", &step.attended.weights, "out.step_weights");
        assert_distribution(&io.name, &step.attended.weights, &src.ne(0));
        if let Some(heads) = &step.attended.head_weights {
            io.close("step head weights", heads, "out.step_head_weights");
        }
    });
}

#[test]
fn teacher_forced_pass_matches_pytorch_features_logits_and_weights() {
    for_each_model(|model, io| {
        let (src, tgt_in) = (io.ids("in.src"), io.ids("in.tgt_in"));
        let enc = model.encode(&src, &io.ids("in.lengths"), false);
        let lengths = Vec::<i64>::try_from(tgt_in.ne(0).sum_dim_intlist(1, false, Kind::Int64)).unwrap();
        let out = model.decoder.teacher_forced(&tgt_in, &lengths, enc.state, &enc.keys, false).unwrap();
        // PyTorch ran the whole padded batch `[B, T, ...]`; Rust returns its real positions `[N, ...]`.
        let real = tgt_in.ne(0).nonzero(); // [N, 2]: row, step
        let n = real.size()[0];
        assert!(n < tgt_in.numel() as i64, "{}: the fixture's targets need padding", io.name);
        let flat = real.select(1, 0) * tgt_in.size()[1] + real.select(1, 1);
        let want = |key: &str| io.get(key).flatten(0, 1).index_select(0, &flat);
        let close =
            |what: &str, got: &Tensor, key: &str| assert_close(&format!("{}: {what}", io.name), got, &want(key));
        // Each real position attends over its own sentence's source.
        let src_mask = src.ne(0).index_select(0, &real.select(1, 0));
        close("features", &out.features, "out.features");
        close("logits", &model.decoder.logits(&out.features, false), "out.logits");
        close("weights", &out.weights, "out.weights");
        assert_distribution(&io.name, &out.weights, &src_mask);
        match (&out.head_weights, io.tensors.get("out.head_weights")) {
            (Some(heads), Some(_)) => {
                close("head weights", heads, "out.head_weights");
                assert_distribution(&io.name, heads, &src_mask);
            }
            (None, None) => {}
            _ => panic!("{}: head weights present in only one of Rust and PyTorch", io.name),
        }
    });
}

#[test]
fn training_loss_matches_pytorch_cross_entropy_with_and_without_label_smoothing() {
    for_each_model(|model, io| {
        let (src, tgt_out) = (io.ids("in.src"), io.ids("in.tgt_out"));
        let batch = Batch {
            src_len: io.ids("in.lengths"),
            tgt_in: io.ids("in.tgt_in"),
            ntokens: i64::try_from(tgt_out.ne(0).sum(Kind::Int64)).unwrap(),
            tgt_out,
            src,
        };
        io.close("loss", &batch_loss(model, &batch, 0.0, false).unwrap(), "out.loss");
        io.close("label-smoothed loss", &batch_loss(model, &batch, 0.1, false).unwrap(), "out.loss_smoothed");
    });
}
