//! Greedy and beam search on a briefly trained model (toy corpus, trained once per test binary through
//! the library API, fixed seed, one thread): beam size 1 is greedy; beam 5 finds at least greedy's mean
//! model score when the length penalty is off; n-best lists are distinct and sorted by normalised score;
//! every hypothesis carries one weight row per token over its own source positions, each summing to 1;
//! and every hypothesis's score and weights are the model's own for its tokens (teacher-forcing them
//! gives the same numbers), which is what catches a beam that loses track of its rows' parents, for
//! both decoder wirings; and a beam wider than half the target vocabulary still works.

use nmt::config::{AttentionKind, Config, DecoderKind, ModelConfig};
use nmt::data::batch::pad;
use nmt::data::batch::{collate, plan_epoch, BatchSize};
use nmt::data::corpus::{read_pairs, Source};
use nmt::data::prepare::{encode_pairs, train_tokenizers};
use nmt::data::tokenizer::{Kind as TokenizerKind, Spec, Tokenizer, BOS, EOS};
use nmt::engine::{DecodeOptions, Engine};
use nmt::model::Seq2Seq;
use nmt::optim::Adam;
use nmt::search::{beam_search, greedy, length_penalty, BeamConfig, Hypothesis, MaxLen, Member};
use nmt::train::train_step;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use tch::{nn, Device, Kind, Tensor};

/// Training pairs (from the start of the toy training set) and optimisation steps.
const TRAIN_PAIRS: usize = 3000;
const TRAIN_STEPS: usize = 400;
const BATCH: usize = 32;
const LR: f64 = 1e-2;
/// Test sentences decoded (from the start of the toy test set).
const TEST_LINES: usize = 100;

struct Trained {
    config: Config,
    vs: nn::VarStore,
    model: Seq2Seq,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    /// The test sentences as source ids, EOS included.
    test: Vec<Vec<i64>>,
    test_lines: Vec<String>,
}

fn toy(split: &str) -> Source {
    let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpora/toy-en-fr").join(split);
    Source::from_prefix(&prefix, "en", "fr")
}

fn train() -> Trained {
    tch::set_num_threads(1);
    tch::manual_seed(1);
    let spec = Spec { kind: TokenizerKind::Word, vocab_size: 8000, min_frequency: 1, lowercase: false };
    let pairs: Vec<_> = read_pairs(&toy("train")).unwrap().into_iter().take(TRAIN_PAIRS).collect();
    let (src_tok, tgt_tok) = train_tokenizers(&pairs, &spec, false).unwrap();
    let (examples, _, _) = encode_pairs(&pairs, &src_tok, &tgt_tok, 100).unwrap();
    let model_cfg = ModelConfig { emb_size: 32, hidden_size: 64, dropout: 0.0, ..ModelConfig::default() };
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Seq2Seq::new(&vs.root(), &model_cfg, src_tok.vocab_size() as i64, tgt_tok.vocab_size() as i64);
    let mut opt = Adam::new(&vs, 0.9, 0.999, 1e-8, 0.0);
    let batches = (0..).flat_map(|epoch| plan_epoch(&examples, BatchSize::Sentences(BATCH), epoch));
    for indices in batches.take(TRAIN_STEPS) {
        train_step(&model, &mut opt, &collate(&examples, &indices, Device::Cpu), 0.0, 1.0, LR).unwrap();
    }
    let test_lines: Vec<String> =
        read_pairs(&toy("test")).unwrap().into_iter().take(TEST_LINES).map(|p| p.src).collect();
    let test = test_lines.iter().map(|l| src_tok.encode(l).unwrap().into_iter().chain([EOS]).collect()).collect();
    let config = Config { model: model_cfg, ..Config::default() };
    Trained { config, vs, model, src_tok, tgt_tok, test, test_lines }
}

/// The model, trained on first use; tests take turns (a tensor may not be shared across threads).
fn trained() -> MutexGuard<'static, Trained> {
    static TRAINED: OnceLock<Mutex<Trained>> = OnceLock::new();
    TRAINED.get_or_init(|| Mutex::new(train())).lock().unwrap_or_else(|e| e.into_inner())
}

/// All test sentences as one padded batch: src `[B, S]`, lengths `[B]`.
fn test_batch(t: &Trained) -> (Tensor, Tensor) {
    let rows: Vec<&[i64]> = t.test.iter().map(|s| s.as_slice()).collect();
    pad(&rows, Device::Cpu)
}

fn beam(t: &Trained, beam: usize, n_best: usize, alpha: f64) -> Vec<Vec<Hypothesis>> {
    let (src, lengths) = test_batch(t);
    beam_search(
        &[Member { model: &t.model, weights: &t.model.decoder.decode_weights(true) }],
        &src,
        &lengths,
        BeamConfig { beam, n_best, alpha, max_len: MaxLen::default() },
    )
    .unwrap()
}

/// Greedy search over a padded batch with the model's decode weights.
fn greedy_batch(model: &Seq2Seq, src: &Tensor, lengths: &Tensor) -> Vec<Hypothesis> {
    greedy(&[Member { model, weights: &model.decoder.decode_weights(false) }], src, lengths, MaxLen::default()).unwrap()
}

/// The engine over a copy of the trained model.
fn engine(t: &Trained) -> Engine {
    Engine::copy_of(&t.config, &t.vs, &t.src_tok, &t.tgt_tok).unwrap()
}

/// One weight row per token, each over the sentence's own `src_len` positions and summing to 1.
fn assert_weights_fit(what: &str, h: &Hypothesis, src_len: usize) {
    assert!(!h.tokens.is_empty(), "{what}: empty hypothesis");
    assert_eq!(h.weights.len(), h.tokens.len(), "{what}: one weight row per token");
    for (k, row) in h.weights.iter().enumerate() {
        assert_eq!(row.len(), src_len, "{what}: row {k} covers {} positions, the source has {src_len}", row.len());
        let sum: f64 = row.iter().map(|&w| w as f64).sum();
        assert!((sum - 1.0).abs() <= 1e-5, "{what}: row {k} sums to {sum}");
    }
}

#[test]
fn the_briefly_trained_model_translates_a_quarter_of_the_test_sentences_exactly() {
    // Guards the other tests' premise: a model that has learnt something, so that beam and greedy differ.
    let t = trained();
    let refs: Vec<String> = read_pairs(&toy("test")).unwrap().into_iter().take(TEST_LINES).map(|p| p.tgt).collect();
    let out =
        engine(&t).translate(&t.test_lines, &DecodeOptions { beam: Some(1), ..DecodeOptions::default() }).unwrap();
    let exact = out
        .iter()
        .zip(&refs)
        .filter(|(o, r)| t.tgt_tok.encode(o.best_text()).unwrap() == t.tgt_tok.encode(r).unwrap())
        .count();
    eprintln!("greedy translates {exact} of {TEST_LINES} test sentences exactly");
    assert!(exact >= TEST_LINES / 4, "only {exact} of {TEST_LINES} test sentences are translated exactly");
}

#[test]
fn greedy_and_beam_of_size_one_give_the_same_tokens_scores_and_weights() {
    let t = trained();
    let (src, lengths) = test_batch(&t);
    let greedy = greedy_batch(&t.model, &src, &lengths);
    for alpha in [0.0, 1.0] {
        let beam = beam(&t, 1, 1, alpha);
        for (i, (g, b)) in greedy.iter().zip(&beam).enumerate() {
            assert_eq!(b.len(), 1, "sentence {i}: beam 1 returns one hypothesis");
            let b = &b[0];
            assert_eq!(g.tokens, b.tokens, "sentence {i}: tokens differ");
            assert!((g.score - b.score).abs() <= 1e-5, "sentence {i}: score {} vs {}", g.score, b.score);
            for (k, (x, y)) in g.weights.iter().flatten().zip(b.weights.iter().flatten()).enumerate() {
                assert!((x - y).abs() <= 1e-6, "sentence {i}: weight {k} {x} vs {y}");
            }
        }
    }
}

#[test]
fn beam_five_mean_model_score_is_at_least_greedys_without_length_penalty() {
    let t = trained();
    let (src, lengths) = test_batch(&t);
    let greedy = greedy_batch(&t.model, &src, &lengths);
    let beam = beam(&t, 5, 1, 0.0);
    let mean = |scores: Vec<f64>| scores.iter().sum::<f64>() / scores.len() as f64;
    let g = mean(greedy.iter().map(|h| h.score).collect());
    let b = mean(beam.iter().map(|h| h[0].score).collect());
    let better = greedy.iter().zip(&beam).filter(|(g, b)| b[0].score > g.score + 1e-6).count();
    eprintln!("mean model score: greedy {g:.4}, beam 5 {b:.4}; beam better on {better} of {TEST_LINES}");
    assert!(b >= g, "beam 5 mean score {b} < greedy {g}");
}

#[test]
fn n_best_hypotheses_are_distinct_and_sorted_by_normalized_score() {
    let t = trained();
    let engine = engine(&t);
    for alpha in [0.0, 1.0] {
        let opts =
            DecodeOptions { beam: Some(5), n_best: Some(5), length_penalty: Some(alpha), ..DecodeOptions::default() };
        let best_only = beam(&t, 5, 1, alpha);
        let out = engine.translate(&t.test_lines, &opts).unwrap();
        for (i, tr) in out.iter().enumerate() {
            let hyps: Vec<&Hypothesis> = tr.outputs.iter().map(|o| &o.hypothesis).collect();
            assert_eq!(hyps.len(), 5, "sentence {i}: n-best 5 of beam 5");
            let norm: Vec<f64> = hyps.iter().map(|h| h.score / length_penalty(h.tokens.len(), alpha)).collect();
            assert!(norm.windows(2).all(|w| w[0] >= w[1]), "sentence {i}, α={alpha}: not sorted: {norm:?}");
            for a in 0..hyps.len() {
                for b in a + 1..hyps.len() {
                    assert_ne!(hyps[a].tokens, hyps[b].tokens, "sentence {i}: hypotheses {a} and {b} are the same");
                }
            }
            assert_eq!(hyps[0].tokens, best_only[i][0].tokens, "sentence {i}: the 1-best is the n-best's first");
        }
    }
}

#[test]
fn every_hypothesis_has_one_weight_row_per_token_over_its_own_source() {
    let t = trained();
    let (src, lengths) = test_batch(&t);
    for (i, h) in greedy_batch(&t.model, &src, &lengths).iter().enumerate() {
        assert_weights_fit(&format!("greedy, sentence {i}"), h, t.test[i].len());
    }
    for (i, hyps) in beam(&t, 5, 5, 1.0).iter().enumerate() {
        for (n, h) in hyps.iter().enumerate() {
            assert_weights_fit(&format!("beam, sentence {i}, hypothesis {n}"), h, t.test[i].len());
            assert!(h.tokens[..h.tokens.len() - 1].iter().all(|&x| x != EOS), "sentence {i}: EOS inside a hypothesis");
        }
    }
}

/// Teacher-forces `tokens` after `src` (EOS included): the model's summed log-probability of them and
/// its attention weights `[T, S]`.
fn forced(model: &Seq2Seq, src: &[i64], tokens: &[i64]) -> (f64, Tensor) {
    let _guard = tch::no_grad_guard();
    let (src, lengths) = pad(&[src], Device::Cpu);
    let tgt_in: Vec<i64> = [BOS].iter().chain(&tokens[..tokens.len() - 1]).copied().collect();
    let enc = model.encode(&src, &lengths, false);
    // One row whose T positions are all real: a PAD the search emitted is fed like any other token.
    let tgt = Tensor::from_slice(&tgt_in).unsqueeze(0);
    let out = model.decoder.teacher_forced(&tgt, &[tgt_in.len() as i64], enc.state, &enc.keys, false).unwrap();
    let logp = model.decoder.logits(&out.features, false).log_softmax(-1, Kind::Float);
    let gold = Tensor::from_slice(tokens).view([-1, 1]);
    let score = f64::try_from(logp.gather(1, &gold, false).sum(Kind::Double)).unwrap();
    (score, out.weights)
}

/// The hypothesis's score and weights are those of teacher-forcing its tokens.
fn assert_forced_agrees(what: &str, model: &Seq2Seq, src: &[i64], h: &Hypothesis) {
    let (score, weights) = forced(model, src, &h.tokens);
    assert!((score - h.score).abs() <= 1e-4, "{what}: search score {} but the model gives {score}", h.score);
    let got = Tensor::from_slice(&h.weights.concat()).view([h.tokens.len() as i64, src.len() as i64]);
    let diff = f64::try_from((got - weights).abs().max()).unwrap();
    assert!(diff <= 1e-5, "{what}: weights differ from teacher forcing by {diff:e}");
}

#[test]
fn search_scores_and_weights_are_the_models_own_for_the_emitted_tokens() {
    let t = trained();
    let (src, lengths) = test_batch(&t);
    let greedy = greedy_batch(&t.model, &src, &lengths);
    let beams = beam(&t, 5, 5, 1.0);
    for i in 0..30 {
        assert_forced_agrees(&format!("greedy, sentence {i}"), &t.model, &t.test[i], &greedy[i]);
        for (n, h) in beams[i].iter().enumerate() {
            assert_forced_agrees(&format!("beam, sentence {i}, hypothesis {n}"), &t.model, &t.test[i], h);
        }
    }
}

#[test]
fn beam_scores_and_weights_are_the_models_own_for_every_decoder_state_kind() {
    // Random models: the Luong decoder's input feed is state that beam search must reorder too.
    tch::set_num_threads(1);
    let sentences: Vec<Vec<i64>> = vec![vec![5, 9, 14, EOS], (4..20).chain([EOS]).collect(), vec![7, EOS]];
    let rows: Vec<&[i64]> = sentences.iter().map(|s| s.as_slice()).collect();
    let (src, lengths) = pad(&rows, Device::Cpu);
    for decoder in [DecoderKind::Bahdanau, DecoderKind::Luong] {
        for attention in [AttentionKind::LuongGeneral, AttentionKind::Multihead] {
            tch::manual_seed(5);
            let cfg =
                ModelConfig { emb_size: 8, hidden_size: 12, heads: 3, decoder, attention, ..ModelConfig::default() };
            let vs = nn::VarStore::new(Device::Cpu);
            let model = Seq2Seq::new(&vs.root(), &cfg, 23, 19);
            let max_len = MaxLen { ratio: 1.0, extra: 4, cap: 300 };
            let hyps = beam_search(
                &[Member { model: &model, weights: &model.decoder.decode_weights(true) }],
                &src,
                &lengths,
                BeamConfig { beam: 4, n_best: 4, alpha: 1.0, max_len },
            )
            .unwrap();
            for (i, (sentence, hs)) in sentences.iter().zip(&hyps).enumerate() {
                for (n, h) in hs.iter().enumerate() {
                    let what =
                        format!("{} / {} decoder, sentence {i}, hypothesis {n}", attention.name(), decoder.name());
                    assert_forced_agrees(&what, &model, sentence, h);
                }
            }
        }
    }
}

#[test]
fn a_beam_wider_than_half_the_vocabulary_still_searches() {
    // Each beam row proposes its 2·beam best tokens; with 19 target tokens that is more than there are.
    tch::set_num_threads(1);
    tch::manual_seed(9);
    let cfg = ModelConfig { emb_size: 8, hidden_size: 12, ..ModelConfig::default() };
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Seq2Seq::new(&vs.root(), &cfg, 23, 19);
    let sentence = vec![5, 9, 14, EOS];
    let (src, lengths) = pad(&[sentence.as_slice()], Device::Cpu);
    for beam in [10, 19, 30] {
        let max_len = MaxLen { ratio: 1.0, extra: 2, cap: 300 };
        let hyps = beam_search(
            &[Member { model: &model, weights: &model.decoder.decode_weights(true) }],
            &src,
            &lengths,
            BeamConfig { beam, n_best: beam, alpha: 1.0, max_len },
        )
        .unwrap();
        assert!(!hyps[0].is_empty(), "beam {beam}: no hypothesis");
        for (n, h) in hyps[0].iter().enumerate() {
            assert_forced_agrees(&format!("beam {beam}, hypothesis {n}"), &model, &sentence, h);
        }
    }
}
