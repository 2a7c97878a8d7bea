//! Padding never leaks: a sentence gets the same encoder states, final state, greedy tokens and
//! attention weights, and the same beam hypotheses, whether it is processed alone or in a batch next
//! to a much longer sentence (before or after it, so the length sort inside the encoder reorders rows).
//! Random small models with fixed seeds, every scorer and both decoder wirings.

use nmt::config::{AttentionKind, DecoderKind, ModelConfig};
use nmt::data::batch::pad;
use nmt::data::tokenizer::EOS;
use nmt::model::Seq2Seq;
use nmt::search::{beam_search, greedy, BeamConfig, Hypothesis, MaxLen, Member};
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;
const SRC_VOCAB: i64 = 23;
const TGT_VOCAB: i64 = 19;

const SCORERS: [AttentionKind; 6] = [
    AttentionKind::Bahdanau,
    AttentionKind::LuongDot,
    AttentionKind::LuongGeneral,
    AttentionKind::LuongConcat,
    AttentionKind::ScaledDot,
    AttentionKind::Multihead,
];

fn config(attention: AttentionKind, decoder: DecoderKind, bidirectional: bool) -> ModelConfig {
    ModelConfig {
        emb_size: 8,
        hidden_size: 12,
        encoder_layers: 2,
        bidirectional,
        // Must have no effect: every pass here is an inference pass.
        dropout: 0.3,
        attention,
        heads: 3,
        decoder,
        ..ModelConfig::default()
    }
}

/// A model with random weights drawn from `seed`.
fn random_model(cfg: &ModelConfig, seed: i64) -> (nn::VarStore, Seq2Seq) {
    tch::set_num_threads(1);
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Seq2Seq::new(&vs.root(), cfg, SRC_VOCAB, TGT_VOCAB);
    (vs, model)
}

/// The short sentence under test and a much longer neighbour, both ending with EOS.
fn sentences() -> (Vec<i64>, Vec<i64>) {
    let short = vec![5, 9, 14, EOS];
    let long: Vec<i64> = (0..17).map(|i| 4 + (i * 7) % (SRC_VOCAB - 4)).chain([EOS]).collect();
    (short, long)
}

/// The short sentence alone, then batched after and before the long one: (batch, row of the short one).
fn batchings() -> Vec<(Vec<Vec<i64>>, usize)> {
    let (short, long) = sentences();
    vec![(vec![short.clone()], 0), (vec![long.clone(), short.clone()], 1), (vec![short, long], 0)]
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    f64::try_from((a - b).abs().max()).unwrap()
}

fn assert_same_hypothesis(what: &str, alone: &Hypothesis, batched: &Hypothesis) {
    assert_eq!(alone.tokens, batched.tokens, "{what}: tokens differ");
    assert!((alone.score - batched.score).abs() <= 1e-4, "{what}: score {} vs {}", alone.score, batched.score);
    assert_eq!(alone.weights.len(), batched.weights.len(), "{what}: weight rows");
    for (k, (a, b)) in alone.weights.iter().zip(&batched.weights).enumerate() {
        assert_eq!(a.len(), b.len(), "{what}: step {k} has {} vs {} source positions", a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!(((x - y).abs() as f64) <= TOLERANCE, "{what}: step {k} weight {x} vs {y}");
        }
    }
    assert_eq!(alone.head_weights.is_some(), batched.head_weights.is_some(), "{what}: head weights");
}

#[test]
fn encoder_states_and_final_state_do_not_depend_on_batch_neighbours() {
    let _guard = tch::no_grad_guard();
    for bidirectional in [true, false] {
        let (_vs, model) = random_model(&config(AttentionKind::Bahdanau, DecoderKind::Bahdanau, bidirectional), 7);
        let n = sentences().0.len() as i64;
        let mut reference: Option<(Tensor, Tensor)> = None;
        for (batch, row) in batchings() {
            let rows: Vec<&[i64]> = batch.iter().map(|s| s.as_slice()).collect();
            let (src, lengths) = pad(&rows, Device::Cpu);
            let enc = model.encoder.forward_t(&src, &lengths, false);
            let memory = enc.memory.get(row as i64);
            let tail = memory.narrow(0, n, memory.size()[0] - n);
            assert_eq!(f64::try_from(tail.abs().sum(Kind::Double)).unwrap(), 0.0, "padding is not zero");
            let (states, last) = (memory.narrow(0, 0, n), enc.last.get(row as i64));
            match &reference {
                None => reference = Some((states, last)),
                Some((s0, l0)) => {
                    let what = format!("bidirectional={bidirectional}, batch of {}", batch.len());
                    assert!(max_diff(s0, &states) <= TOLERANCE, "{what}: encoder states differ");
                    assert!(max_diff(l0, &last) <= TOLERANCE, "{what}: final state differs");
                }
            }
        }
    }
}

#[test]
fn greedy_tokens_and_weights_do_not_depend_on_batch_neighbours() {
    for attention in SCORERS {
        for decoder in [DecoderKind::Bahdanau, DecoderKind::Luong] {
            let (_vs, model) = random_model(&config(attention, decoder, true), 11);
            let mut reference: Option<Hypothesis> = None;
            for (batch, row) in batchings() {
                let rows: Vec<&[i64]> = batch.iter().map(|s| s.as_slice()).collect();
                let (src, lengths) = pad(&rows, Device::Cpu);
                let hyp = greedy(
                    &[Member { model: &model, weights: &model.decoder.decode_weights(false) }],
                    &src,
                    &lengths,
                    MaxLen::default(),
                )
                .unwrap()
                .swap_remove(row);
                match &reference {
                    None => reference = Some(hyp),
                    Some(h0) => {
                        let what =
                            format!("{} / {} decoder, batch of {}", attention.name(), decoder.name(), batch.len());
                        assert_same_hypothesis(&what, h0, &hyp);
                    }
                }
            }
        }
    }
}

#[test]
fn beam_hypotheses_do_not_depend_on_batch_neighbours() {
    let cfg = BeamConfig { beam: 4, n_best: 4, alpha: 1.0, max_len: MaxLen::default() };
    for attention in [AttentionKind::Bahdanau, AttentionKind::Multihead] {
        for decoder in [DecoderKind::Bahdanau, DecoderKind::Luong] {
            let (_vs, model) = random_model(&config(attention, decoder, true), 13);
            let mut reference: Option<Vec<Hypothesis>> = None;
            for (batch, row) in batchings() {
                let rows: Vec<&[i64]> = batch.iter().map(|s| s.as_slice()).collect();
                let (src, lengths) = pad(&rows, Device::Cpu);
                let hyps = beam_search(
                    &[Member { model: &model, weights: &model.decoder.decode_weights(true) }],
                    &src,
                    &lengths,
                    cfg,
                )
                .unwrap()
                .swap_remove(row);
                match &reference {
                    None => reference = Some(hyps),
                    Some(h0) => {
                        let what =
                            format!("{} / {} decoder, batch of {}", attention.name(), decoder.name(), batch.len());
                        assert_eq!(h0.len(), hyps.len(), "{what}: number of hypotheses");
                        for (a, b) in h0.iter().zip(&hyps) {
                            assert_same_hypothesis(&what, a, b);
                        }
                    }
                }
            }
        }
    }
}
