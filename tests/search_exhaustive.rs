//! Beam search against exhaustive search on tiny random models (a target vocabulary of the 4 special
//! tokens, at most 4 steps). The exhaustive search here is plain code stepping the model
//! ([`Decoder::step`]) through every sequence, scored as beam search scores them: the sum of the tokens'
//! log-probabilities, ranked by the GNMT length-normalised score, a sequence ending at EOS or at the
//! length limit. With a beam as wide as the most live prefixes a step can have (27), beam search finds
//! the exhaustive n-best lists (same tokens, scores within 1e-5); with any narrower beam its best
//! normalised score is at most the exhaustive best.

use nmt::config::{AttentionKind, DecoderKind, ModelConfig};
use nmt::data::batch::pad;
use nmt::data::tokenizer::EOS;
use nmt::model::attention::Keys;
use nmt::model::decoder::DecoderState;
use nmt::model::Seq2Seq;
use nmt::search::{beam_search, length_penalty, BeamConfig, MaxLen, Member};
use tch::{nn, Device, Kind, Tensor};

const TGT_VOCAB: i64 = 4;
const STEPS: usize = 4;
/// Live prefixes at the last step: 3 non-EOS tokens per step before it.
const WIDEST: usize = 27;
const TOLERANCE: f64 = 1e-5;

/// Every finished sequence (ending at EOS or after `STEPS` tokens) with its summed log-probability.
fn exhaustive(
    model: &Seq2Seq,
    keys: &Keys,
    state: DecoderState,
    prefix: &mut Vec<i64>,
    score: f64,
    out: &mut Vec<(Vec<i64>, f64)>,
) {
    let y = Tensor::from_slice(&[*prefix.last().unwrap_or(&nmt::data::tokenizer::BOS)]);
    let step = model.decoder.step(&y, &state, keys);
    let logp = Vec::<f64>::try_from(step.logits.log_softmax(-1, Kind::Double).view([-1])).unwrap();
    for (tok, lp) in logp.iter().enumerate() {
        prefix.push(tok as i64);
        if tok as i64 == EOS || prefix.len() == STEPS {
            out.push((prefix.clone(), score + lp));
        } else {
            exhaustive(model, keys, step.state.index_select(&Tensor::from_slice(&[0i64])), prefix, score + lp, out);
        }
        prefix.pop();
    }
}

fn models() -> Vec<(String, nn::VarStore, Seq2Seq)> {
    let mut out = Vec::new();
    for decoder in [DecoderKind::Bahdanau, DecoderKind::Luong] {
        for attention in [AttentionKind::Bahdanau, AttentionKind::Multihead] {
            for seed in [1, 2] {
                tch::manual_seed(seed);
                let cfg = ModelConfig {
                    emb_size: 6,
                    hidden_size: 10,
                    heads: 2,
                    decoder,
                    attention,
                    ..ModelConfig::default()
                };
                let vs = nn::VarStore::new(Device::Cpu);
                let model = Seq2Seq::new(&vs.root(), &cfg, 13, TGT_VOCAB);
                out.push((format!("{} / {} decoder, seed {seed}", attention.name(), decoder.name()), vs, model));
            }
        }
    }
    out
}

#[test]
fn beam_search_finds_the_exhaustive_best_and_never_beats_it() {
    let _guard = tch::no_grad_guard();
    tch::set_num_threads(1);
    let sentences: Vec<Vec<i64>> = vec![vec![5, 9, EOS], vec![4, 7, 11, 12, 6, EOS]];
    // Limit 4 for every source length.
    let max_len = MaxLen { ratio: 0.0, extra: STEPS, cap: STEPS };
    for (what, _vs, model) in models() {
        let prepared = model.decoder.decode_weights(true);
        for alpha in [0.0, 1.0] {
            let normalized = |tokens: &[i64], score: f64| score / length_penalty(tokens.len(), alpha);
            for sentence in &sentences {
                let (src, lengths) = pad(&[sentence.as_slice()], Device::Cpu);
                let enc = model.encode(&src, &lengths, false);
                let mut all = Vec::new();
                exhaustive(&model, &enc.keys, enc.state, &mut vec![], 0.0, &mut all);
                assert_eq!(all.len(), 1 + 3 + 9 + 27 * 4, "{what}: every sequence of at most {STEPS} tokens");
                all.sort_by(|a, b| normalized(&b.0, b.1).total_cmp(&normalized(&a.0, a.1)));
                let best = normalized(&all[0].0, all[0].1);
                let what = format!("{what}, α={alpha}, source {sentence:?}");
                let n_best = 5;
                let cfg = BeamConfig { beam: WIDEST, n_best, alpha, max_len };
                let wide = beam_search(&[Member { model: &model, weights: &prepared }], &src, &lengths, cfg)
                    .unwrap()
                    .swap_remove(0);
                assert_eq!(wide.len(), n_best, "{what}: beam {WIDEST} returns {n_best} hypotheses");
                for (n, (h, (tokens, score))) in wide.iter().zip(&all).enumerate() {
                    assert_eq!(&h.tokens, tokens, "{what}: hypothesis {n} of beam {WIDEST} is not the exhaustive one");
                    assert!(
                        (h.score - score).abs() <= TOLERANCE,
                        "{what}: hypothesis {n} scores {} vs {score}",
                        h.score
                    );
                }
                for beam in 1..=5 {
                    let cfg = BeamConfig { beam, n_best: 1, alpha, max_len };
                    let h = beam_search(&[Member { model: &model, weights: &prepared }], &src, &lengths, cfg)
                        .unwrap()
                        .swap_remove(0)
                        .swap_remove(0);
                    let got = normalized(&h.tokens, h.score);
                    assert!(
                        got <= best + TOLERANCE,
                        "{what}: beam {beam} scores {got} above the exhaustive best {best}"
                    );
                    assert!(h.tokens.len() <= STEPS, "{what}: beam {beam} emits {} tokens", h.tokens.len());
                }
            }
        }
    }
}
