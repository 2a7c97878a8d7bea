//! The encoder: source embedding → (bidirectional) GRU over packed sequences, so padding never leaks into
//! a sentence's states, plus the bridge that turns the final states into the decoder's initial state.

use crate::config::ModelConfig;
use crate::data::tokenizer::PAD;
use crate::model::{gru, onednn};
use tch::{nn, nn::Module, Device, Tensor};

/// What the decoder needs from the encoder.
#[derive(Debug)]
pub struct Encoded {
    /// Encoder outputs `[B, S, D_enc]`, exactly zero at padded positions.
    pub memory: Tensor,
    /// `true` at real source positions `[B, S]`.
    pub mask: Tensor,
    /// Top layer's final states, directions concatenated `[B, D_enc]`.
    pub last: Tensor,
}

/// Embedding + multi-layer (bi)GRU with PyTorch's parameter names (`rnn.weight_ih_l0_reverse`, ...).
#[derive(Debug)]
pub struct Encoder {
    embed: nn::Embedding,
    params: Vec<Tensor>,
    layers: i64,
    dir_size: i64,
    bidirectional: bool,
    dropout: f64,
}

impl Encoder {
    /// Builds the encoder under `path` for a source vocabulary of `vocab` tokens.
    pub fn new(path: &nn::Path, cfg: &ModelConfig, vocab: i64) -> Encoder {
        let embed = nn::embedding(path / "embed", vocab, cfg.emb_size as i64, Default::default());
        let h = cfg.encoder_dir_size() as i64;
        let dirs = if cfg.bidirectional { 2 } else { 1 };
        let rnn = path / "rnn";
        // PyTorch's default GRU initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter.
        let bound = 1.0 / (h as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        let mut params = Vec::new();
        for layer in 0..cfg.encoder_layers {
            let input = if layer == 0 { cfg.emb_size as i64 } else { h * dirs };
            for dir in 0..dirs {
                let sfx = if dir == 1 { "_reverse" } else { "" };
                params.push(rnn.var(&format!("weight_ih_l{layer}{sfx}"), &[3 * h, input], init));
                params.push(rnn.var(&format!("weight_hh_l{layer}{sfx}"), &[3 * h, h], init));
                params.push(rnn.var(&format!("bias_ih_l{layer}{sfx}"), &[3 * h], init));
                params.push(rnn.var(&format!("bias_hh_l{layer}{sfx}"), &[3 * h], init));
            }
        }
        Encoder {
            embed,
            params,
            layers: cfg.encoder_layers as i64,
            dir_size: h,
            bidirectional: cfg.bidirectional,
            dropout: cfg.dropout,
        }
    }

    /// src: `[B, S]` token ids padded with PAD, lengths: `[B]` (CPU, i64, each ≥ 1)
    /// → memory `[B, S, D_enc]`, mask `[B, S]`, last `[B, D_enc]`.
    pub fn forward_t(&self, src: &Tensor, lengths: &Tensor, train: bool) -> Encoded {
        let (b, s) = src.size2().expect("src must be [B, S]");
        let emb = self.embed.forward(src).dropout(self.dropout, train);
        // libtorch packs only length-sorted batches: sort, run, then restore the caller's order.
        let (sorted_len, order) = lengths.sort(0, true);
        let unorder = order.argsort(0, false);
        let emb = emb.index_select(0, &order.to_device(emb.device()));
        let dirs = if self.bidirectional { 2 } else { 1 };
        let host_lengths = self.steps_through_onednn(train, &emb).then(|| Vec::<i64>::try_from(&sorted_len).ok());
        let (memory, h_n) = if let Some(Some(lengths)) = host_lengths {
            gru::stack(&emb, &lengths, &self.params, self.layers, self.bidirectional)
        } else {
            let (data, batch_sizes) = emb.internal_pack_padded_sequence(&sorted_len, true);
            let h0 = Tensor::zeros([self.layers * dirs, b, self.dir_size], (emb.kind(), emb.device()));
            let (out, h_n) = Tensor::gru_data(
                &data,
                &batch_sizes,
                &h0,
                &self.params,
                true,
                self.layers,
                self.dropout,
                train,
                self.bidirectional,
            );
            (Tensor::internal_pad_packed_sequence(&out, &batch_sizes, true, 0.0, s).0, h_n)
        };
        let unorder = unorder.to_device(memory.device());
        let memory = memory.index_select(0, &unorder);
        // h_n: [layers·dirs, B, H] → the top layer's directions, concatenated: [B, dirs·H].
        let top = h_n.narrow(0, (self.layers - 1) * dirs, dirs);
        let last = top.permute([1, 0, 2]).reshape([b, dirs * self.dir_size]).index_select(0, &unorder);
        Encoded { memory, mask: src.ne(PAD), last }
    }

    /// Whether [`Self::forward_t`] runs its own GRU loop ([`gru::stack`], products through oneDNN)
    /// instead of libtorch's `gru`: for inference on the CPU with frozen parameters (no gradient) where
    /// oneDNN is [`onednn::preferred`]. The two agree up to float rounding.
    fn steps_through_onednn(&self, train: bool, emb: &Tensor) -> bool {
        !train
            && emb.device() == Device::Cpu
            && emb.kind() == tch::Kind::Float
            && self.params.iter().all(|p| !p.requires_grad())
            && onednn::preferred()
    }
}

/// Initial decoder state: `tanh(W [h_fwd; h_bwd] + b)`, or zeros when the bridge is off.
#[derive(Debug)]
pub struct Bridge {
    linear: Option<nn::Linear>,
    size: i64,
}

impl Bridge {
    /// Builds the bridge (`bridge.weight`, `bridge.bias`: `[H_dec, D_enc]`, `[H_dec]`) when `cfg.bridge` is on.
    pub fn new(path: &nn::Path, cfg: &ModelConfig) -> Bridge {
        let linear = cfg
            .bridge
            .then(|| nn::linear(path / "bridge", cfg.memory_size() as i64, cfg.hidden_size as i64, Default::default()));
        Bridge { linear, size: cfg.hidden_size as i64 }
    }

    /// last: `[B, D_enc]` → `[B, H_dec]`.
    pub fn forward(&self, last: &Tensor) -> Tensor {
        match &self.linear {
            Some(l) => l.forward(last).tanh(),
            None => Tensor::zeros([last.size()[0], self.size], (last.kind(), last.device())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn the_inference_loop_gives_libtorchs_gru_for_two_bidirectional_layers_and_padding() {
        tch::manual_seed(7);
        let cfg = ModelConfig {
            emb_size: 12,
            hidden_size: 16,
            encoder_layers: 2,
            bidirectional: true,
            ..ModelConfig::default()
        };
        let mut vs = nn::VarStore::new(Device::Cpu);
        let enc = Encoder::new(&vs.root(), &cfg, 30);
        let lengths = Tensor::from_slice(&[5i64, 2, 7, 1, 7, 4]);
        let positions = Tensor::arange(7, (Kind::Int64, Device::Cpu));
        let real = lengths.unsqueeze(1).gt_tensor(&positions);
        let src = Tensor::randint_low(3, 30, [6, 7], (Kind::Int64, Device::Cpu)).where_self(&real, &Tensor::from(PAD));
        let _guard = tch::no_grad_guard();
        let fused = enc.forward_t(&src, &lengths, false);
        vs.freeze();
        let emb = enc.embed.forward(&src);
        assert_eq!(enc.steps_through_onednn(false, &emb), onednn::preferred());
        let looped = enc.forward_t(&src, &lengths, false);
        let diff = |a: &Tensor, b: &Tensor| f64::try_from((a - b).abs().max()).unwrap();
        assert!(diff(&fused.memory, &looped.memory) < 1e-5);
        assert!(diff(&fused.last, &looped.last) < 1e-5);
        let padding = &looped.memory * real.logical_not().unsqueeze(2);
        assert_eq!(f64::try_from(padding.abs().max()).unwrap(), 0.0, "padded positions are zero");
    }
}
