#!/usr/bin/env python3
"""Writes tests/fixtures/model/*.safetensors: small weights, inputs and PyTorch's outputs for the model.

tests/model_pytorch.rs loads each file into the Rust model and checks that it computes the same numbers.
The modules below are written from the issue's equations with PyTorch's own building blocks (nn.GRU over
packed sequences, nn.GRUCell, nn.Linear), not transcribed from the Rust code, and their parameters carry
the Rust VarStore's names (`encoder.rnn.weight_ih_l0_reverse`, `decoder.attention.w_k.weight`, ...), so
`nmt::checkpoint::load_weights` reads a fixture directly.

Each file holds, in one safetensors file:
  - the weights (float32), under the model's names (`attention.*` for the scorer-only files);
  - the inputs, named `in.*`, and PyTorch's outputs, named `out.*` (all float32: ids and masks too, so the
    files read like any weights file; small integers are exact in float32);
  - metadata `fixture`: JSON with `model_config` (the `ModelConfig` that builds the matching Rust model),
    `src_vocab` and `tgt_vocab`.
The outputs are computed in float64 from the float32 weights and inputs, so they are the exact answer up
to float64 rounding, and the Rust float32 computation has to land within the tests' 1e-5.

Files:
  attention-<scorer>.safetensors   one per scorer: prepare(memory, mask) then attend(query)
                                   → out.context [B, D], out.weights [B, S], out.head_weights [B, h, S];
                                   padded memory rows hold random numbers, so only the mask hides them.
  model-<case>.safetensors         a whole model on a padded batch (lengths 3, 5, 2: unsorted, one full):
                                   out.memory [B, S, D], out.last [B, D], out.h0 [B, H];
                                   one decoder step from a given state (in.step_y, in.step_h, in.step_feed)
                                   → out.step_logits [B, V], out.step_h, out.step_feed, out.step_weights;
                                   teacher forcing over in.tgt_in [B, T] → out.features [B, T, F],
                                   out.logits [B, T, V], out.weights [B, T, S] (+ head weights for multihead);
                                   the training loss against in.tgt_out [B, T]: out.loss (mean token
                                   cross-entropy over real positions), out.loss_smoothed (label smoothing 0.1).

Regenerate (deterministic for a given PyTorch version; the venv is the one scripts/setup.sh creates):

    NMT_HOME=${NMT_HOME:-$HOME/.cache/nmt}
    "$NMT_HOME/venv/bin/python" -m pip install safetensors==0.8.0 numpy
    "$NMT_HOME/venv/bin/python" scripts/fixtures.py
"""

import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# Sizes derived from a config, and the masked softmax: shared with the PyTorch port beside this script.
from torch_nmt import attention_size, dir_size, masked_softmax, memory_size

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model")

PAD, BOS, EOS = 0, 2, 3
SRC_VOCAB, TGT_VOCAB = 11, 13
EMB, HIDDEN = 4, 6
LENGTHS = [3, 5, 2]  # unsorted, one sentence fills S, two are padded
B, S, T = len(LENGTHS), max(LENGTHS), 4


def model_config(**overrides):
    """A complete `ModelConfig` (every field, serde spelling), small sizes."""
    cfg = {
        "emb_size": EMB,
        "hidden_size": HIDDEN,
        "encoder_hidden_size": 0,
        "encoder_layers": 2,
        "bidirectional": True,
        "dropout": 0.3,  # must have no effect: every pass below is an inference pass
        "attention": "bahdanau",
        "attention_size": 0,
        "heads": 2,
        "decoder": "bahdanau",
        "input_feeding": True,
        "bridge": True,
        "tied_embeddings": False,
    }
    cfg.update(overrides)
    return cfg


class Attention(nn.Module):
    """The six scorers. forward(query [B, H], memory [B, S, D], mask [B, S]) → context, weights, heads."""

    def __init__(self, cfg):
        super().__init__()
        self.kind = cfg["attention"]
        self.heads = cfg["heads"]
        q, k, a = cfg["hidden_size"], memory_size(cfg), attention_size(cfg)
        if self.kind == "bahdanau":
            self.w_k = nn.Linear(k, a, bias=False)
            self.w_q = nn.Linear(q, a, bias=False)
            self.v = nn.Linear(a, 1, bias=False)
        elif self.kind == "luong-general":
            self.w = nn.Linear(k, q, bias=False)  # W of q^T W k, shape [q, k]
        elif self.kind == "luong-concat":
            # One W over [q; k] with a bias; stored as its query half (with the bias) and its key half.
            self.w_q = nn.Linear(q, a, bias=True)
            self.w_k = nn.Linear(k, a, bias=False)
            self.v = nn.Linear(a, 1, bias=False)
        elif self.kind == "multihead":
            self.w_q = nn.Linear(q, a, bias=False)
            self.w_k = nn.Linear(k, a, bias=False)
            self.w_v = nn.Linear(k, a, bias=False)
            self.w_o = nn.Linear(a, k, bias=False)

    def forward(self, query, memory, mask):
        if self.kind == "multihead":
            return self.multihead(query, memory, mask)
        if self.kind == "bahdanau":
            scores = self.v(torch.tanh(self.w_k(memory) + self.w_q(query)[:, None, :]))[..., 0]
        elif self.kind == "luong-dot":
            scores = torch.einsum("bh,bsh->bs", query, memory)
        elif self.kind == "luong-general":
            scores = torch.einsum("bq,qk,bsk->bs", query, self.w.weight, memory)
        elif self.kind == "luong-concat":
            w = torch.cat([self.w_q.weight, self.w_k.weight], 1)
            qk = torch.cat([query[:, None, :].expand(-1, memory.shape[1], -1), memory], 2)
            scores = self.v(torch.tanh(F.linear(qk, w, self.w_q.bias)))[..., 0]
        elif self.kind == "scaled-dot":
            scores = torch.einsum("bh,bsh->bs", query, memory) / math.sqrt(query.shape[1])
        weights = masked_softmax(scores, mask)
        return torch.einsum("bs,bsd->bd", weights, memory), weights, None

    def multihead(self, query, memory, mask):
        b, s, _ = memory.shape
        h = self.heads
        a = self.w_q.weight.shape[0]
        d = a // h
        # Head i owns projection dimensions [i·d, (i+1)·d), as in torch.nn.MultiheadAttention.
        q = self.w_q(query).view(b, h, d)
        k = self.w_k(memory).view(b, s, h, d)
        v = self.w_v(memory).view(b, s, h, d)
        heads = masked_softmax(torch.einsum("bhd,bshd->bhs", q, k) / math.sqrt(d), mask[:, None, :])
        ctx = torch.einsum("bhs,bshd->bhd", heads, v).reshape(b, a)
        context = self.w_o(ctx)
        if query.shape[1] == a == memory.shape[2]:
            # Where PyTorch's own implementation applies, it must agree with the einsums above.
            ref, ref_heads = F.multi_head_attention_forward(
                query[None], memory.transpose(0, 1), memory.transpose(0, 1), a, h,
                in_proj_weight=None, in_proj_bias=None, bias_k=None, bias_v=None, add_zero_attn=False,
                dropout_p=0.0, out_proj_weight=self.w_o.weight, out_proj_bias=None, training=False,
                key_padding_mask=~mask, need_weights=True, use_separate_proj_weight=True,
                q_proj_weight=self.w_q.weight, k_proj_weight=self.w_k.weight, v_proj_weight=self.w_v.weight,
                average_attn_weights=False,
            )
            assert torch.allclose(ref[0], context, atol=1e-12), "multihead disagrees with PyTorch's"
            assert torch.allclose(ref_heads[:, :, 0], heads, atol=1e-12), "head weights disagree"
        return context, heads.mean(1), heads


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(SRC_VOCAB, cfg["emb_size"])
        self.rnn = nn.GRU(cfg["emb_size"], dir_size(cfg), cfg["encoder_layers"], batch_first=True,
                          dropout=cfg["dropout"] if cfg["encoder_layers"] > 1 else 0.0,
                          bidirectional=cfg["bidirectional"])

    def forward(self, src, lengths):
        """src [B, S], lengths [B] → memory [B, S, D] (zeros at padding), last [B, D] (top layer, fwd; bwd)."""
        packed = pack_padded_sequence(self.embed(src), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        last = torch.cat([h_n[-2], h_n[-1]], 1) if self.rnn.bidirectional else h_n[-1]
        return memory, last


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e, h, d = cfg["emb_size"], cfg["hidden_size"], memory_size(cfg)
        self.style = cfg["decoder"]
        self.feeding = self.style == "luong" and cfg["input_feeding"]
        self.embed = nn.Embedding(TGT_VOCAB, e)
        if self.style == "bahdanau":
            self.rnn = nn.GRUCell(e + d, h)
            features = h + d + e
        else:
            self.rnn = nn.GRUCell(e + h if self.feeding else e, h)
            self.combine = nn.Linear(d + h, h, bias=False)
            features = h
        self.attention = Attention(cfg)
        self.tied = cfg["tied_embeddings"]
        if self.tied:
            self.pre_output = nn.Linear(features, e, bias=False)
            self.output = nn.Module()
            self.output.bias = nn.Parameter(torch.randn(TGT_VOCAB) * 0.1)
        else:
            self.output = nn.Linear(features, TGT_VOCAB)

    def step(self, y, h, feed, memory, mask):
        """y [B], h [B, H], feed [B, H] or None → features, h, feed, (context, weights, heads)."""
        e = self.embed(y)
        if self.style == "bahdanau":
            att = self.attention(h, memory, mask)  # queried with the previous state
            h = self.rnn(torch.cat([e, att[0]], 1), h)
            return torch.cat([h, att[0], e], 1), h, None, att
        h = self.rnn(torch.cat([e, feed], 1) if self.feeding else e, h)
        att = self.attention(h, memory, mask)  # queried with the current state
        vec = torch.tanh(self.combine(torch.cat([att[0], h], 1)))
        return vec, h, vec if self.feeding else None, att

    def logits(self, features):
        if self.tied:
            return self.pre_output(features) @ self.embed.weight.T + self.output.bias
        return self.output(features)


class Seq2Seq(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.bridge = nn.Linear(memory_size(cfg), cfg["hidden_size"]) if cfg["bridge"] else None
        self.decoder = Decoder(cfg)
        self.hidden = cfg["hidden_size"]

    def initial_state(self, last):
        return torch.tanh(self.bridge(last)) if self.bridge is not None else last.new_zeros(last.shape[0], self.hidden)


def ids(lengths, width, vocab, first, gen, last=None):
    """[B, width] ids: random real tokens (≥ 4) padded with PAD, optionally starting with `first`
    and ending with `last`."""
    out = torch.full((len(lengths), width), PAD, dtype=torch.long)
    for r, n in enumerate(lengths):
        row = torch.randint(4, vocab, (n,), generator=gen)
        if first is not None:
            row[0] = first
        if last is not None:
            row[-1] = last
        out[r, :n] = row
    return out


def f32(named):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in named.items()}


def write(name, tensors, cfg):
    # One metadata key: safetensors writes several in random order, and the files should regenerate
    # byte for byte.
    about = {"model_config": cfg, "src_vocab": SRC_VOCAB, "tgt_vocab": TGT_VOCAB}
    meta = {"fixture": json.dumps(about, sort_keys=True)}
    save_file(f32(tensors), os.path.join(OUT, name), metadata=meta)
    print(f"wrote {name}: {len(tensors)} tensors")


def attention_fixture(kind, seed):
    # A non-square attention size (8, two heads of 4) where the scorer has one.
    cfg = model_config(attention=kind, attention_size=8, heads=2)
    torch.manual_seed(seed)
    att = Attention(cfg)
    weights = {f"attention.{k}": v for k, v in att.state_dict().items()}
    query = torch.randn(B, HIDDEN)
    memory = torch.randn(B, S, memory_size(cfg))  # padded rows too: only the mask may hide them
    mask = torch.arange(S)[None, :] < torch.tensor(LENGTHS)[:, None]
    with torch.no_grad():
        context, w, heads = att.double()(query.double(), memory.double(), mask)
    tensors = {**weights, "in.query": query, "in.memory": memory, "in.mask": mask, "out.context": context, "out.weights": w}
    if heads is not None:
        tensors["out.head_weights"] = heads
    write(f"attention-{kind}.safetensors", tensors, cfg)


def model_fixture(name, cfg, seed):
    torch.manual_seed(seed)
    model = Seq2Seq(cfg)
    weights = dict(model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    src = ids(LENGTHS, S, SRC_VOCAB, None, gen, last=EOS)
    tgt_lengths = [T, T - 1, 2]
    tgt_in = ids(tgt_lengths, T, TGT_VOCAB, BOS, gen)
    # The decoder's targets: tgt_in shifted left, EOS after each row's last token.
    tgt_out = torch.full_like(tgt_in, PAD)
    for r, n in enumerate(tgt_lengths):
        tgt_out[r, : n - 1] = tgt_in[r, 1:n]
        tgt_out[r, n - 1] = EOS
    step_y = torch.randint(4, TGT_VOCAB, (B,), generator=gen)
    step_h = torch.randn(B, HIDDEN, generator=gen)
    step_feed = torch.randn(B, HIDDEN, generator=gen)
    model = model.double().eval()
    dec = model.decoder
    out = {}
    with torch.no_grad():
        memory, last = model.encoder(src, lengths)
        mask = src != PAD
        h0 = model.initial_state(last)
        out.update({"out.memory": memory, "out.last": last, "out.h0": h0})

        feed = step_feed.double() if dec.feeding else None
        f, h, feed, (_, w, heads) = dec.step(step_y, step_h.double(), feed, memory, mask)
        out.update({"out.step_logits": dec.logits(f), "out.step_h": h, "out.step_weights": w})
        if feed is not None:
            out["out.step_feed"] = feed
        if heads is not None:
            out["out.step_head_weights"] = heads

        h, feed = h0, (h0.new_zeros(B, HIDDEN) if dec.feeding else None)
        features, ws, hs = [], [], []
        for t in range(T):
            f, h, feed, (_, w, heads) = dec.step(tgt_in[:, t], h, feed, memory, mask)
            features.append(f)
            ws.append(w)
            hs.append(heads)
        features = torch.stack(features, 1)
        # The output layer runs once over all steps, as the Rust teacher-forced pass does.
        logits = dec.logits(features)
        out.update({"out.features": features, "out.logits": logits, "out.weights": torch.stack(ws, 1)})
        # The training loss: mean token cross-entropy over the real target positions.
        real = tgt_out != PAD
        for key, smoothing in [("out.loss", 0.0), ("out.loss_smoothed", 0.1)]:
            out[key] = F.cross_entropy(logits[real], tgt_out[real], label_smoothing=smoothing)
        if hs[0] is not None:
            out["out.head_weights"] = torch.stack(hs, 1)
    inputs = {"in.src": src, "in.lengths": lengths, "in.tgt_in": tgt_in, "in.tgt_out": tgt_out, "in.step_y": step_y,
              "in.step_h": step_h}
    if dec.feeding:
        inputs["in.step_feed"] = step_feed
    write(f"model-{name}.safetensors", {**weights, **inputs, **out}, cfg)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float32)
    for i, kind in enumerate(["bahdanau", "luong-dot", "luong-general", "luong-concat", "scaled-dot", "multihead"]):
        attention_fixture(kind, 100 + i)
    # Both decoder wirings, both output layers, every encoder shape; each case names what it adds.
    model_fixture("bahdanau", model_config(), 1)
    model_fixture("luong-input-feeding", model_config(decoder="luong", attention="luong-general"), 2)
    model_fixture("bahdanau-multihead-tied-no-bridge",
                  model_config(attention="multihead", encoder_layers=1, bridge=False, tied_embeddings=True), 3)
    model_fixture("luong-no-feeding-scaled-dot-tied-unidirectional",
                  model_config(decoder="luong", input_feeding=False, attention="scaled-dot", bidirectional=False,
                               tied_embeddings=True), 4)


if __name__ == "__main__":
    main()
