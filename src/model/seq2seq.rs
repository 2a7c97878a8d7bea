//! The whole network: encoder, bridge and decoder built from one [`ModelConfig`].

use crate::config::ModelConfig;
use crate::model::attention::Keys;
use crate::model::decoder::{Decoder, DecoderState};
use crate::model::encoder::{Bridge, Encoder};
use tch::{nn, Tensor};

/// A GRU encoder–decoder with attention.
#[derive(Debug)]
pub struct Seq2Seq {
    /// The config that built it (saved next to the weights).
    pub cfg: ModelConfig,
    /// Source ids `[B, S]` → memory `[B, S, D_enc]` and final states `[B, D_enc]`.
    pub encoder: Encoder,
    /// Final states `[B, D_enc]` → initial decoder state `[B, H]`.
    pub bridge: Bridge,
    /// Attention, recurrence and output layer.
    pub decoder: Decoder,
}

/// Everything decoding needs from the source side.
#[derive(Debug)]
pub struct EncodedSource {
    /// Precomputed attention keys and values, and the source mask.
    pub keys: Keys,
    /// Decoder state before the first step.
    pub state: DecoderState,
}

impl Seq2Seq {
    /// Builds the model under `p` (weight names: `encoder.*`, `bridge.*`, `decoder.*`).
    pub fn new(p: &nn::Path, cfg: &ModelConfig, src_vocab: i64, tgt_vocab: i64) -> Seq2Seq {
        Seq2Seq {
            cfg: cfg.clone(),
            encoder: Encoder::new(&(p / "encoder"), cfg, src_vocab),
            bridge: Bridge::new(p, cfg),
            decoder: Decoder::new(&(p / "decoder"), cfg, tgt_vocab),
        }
    }

    /// src: `[B, S]`, lengths: `[B]` (CPU i64) → keys over the memory and the initial decoder state.
    pub fn encode(&self, src: &Tensor, lengths: &Tensor, train: bool) -> EncodedSource {
        let enc = self.encoder.forward_t(src, lengths, train);
        let keys = self.decoder.attention().prepare(&enc.memory, &enc.mask);
        let state = self.decoder.initial_state(self.bridge.forward(&enc.last));
        EncodedSource { keys, state }
    }
}
