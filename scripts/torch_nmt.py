#!/usr/bin/env python3
"""Translates with an nmt model directory in plain PyTorch: one line in, one line out, like `nmt translate`.

    scripts/torch_nmt.py MODEL_DIR [--checkpoint best|last|averaged] [--beam N] [--length-penalty A]
                         [--batch-size N] [--max-len N] [--threads N] < input > output

It needs Python ≥ 3.11 with torch, tokenizers and safetensors: the virtual environment that
scripts/setup.sh makes has them,

    "${NMT_HOME:-$HOME/.cache/nmt}/venv/bin/python" scripts/torch_nmt.py runs/toy < test.en > test.fr

and anywhere else `pip install torch tokenizers==0.23.2 safetensors==0.8.0` does. The file is self-contained:
copy it anywhere to take a model to Python. From other code, `load(model_dir)` returns a `Translator`:
its `model` is the `Seq2Seq` torch module with the trained weights, `src_tok`/`tgt_tok` the tokenizers,
and `translate(lines, beam=..., ...)` does what this command does.

What it reads from MODEL_DIR:
  config.toml                 the [model] section builds the network (every scorer, both decoder wirings,
                              input feeding, tied embeddings, bridge, any encoder shape);
  best.safetensors            the weights (or last/averaged.safetensors with --checkpoint; the Adam moments
                              `adam.*` that last.safetensors also holds are skipped), under the same names as
                              the module's state_dict (`encoder.rnn.weight_ih_l0_reverse`, ...);
  tokenizer.src.json, tokenizer.tgt.json   the Hugging Face `tokenizers` files of the two languages.

  decode.toml (optional)      the model's decoding defaults, as `nmt translate` reads them: a flag left out
                              takes the value of the search's section ([greedy] for --beam 1, [beam] above;
                              the `default` search when --beam is left out), and a model directory without
                              the file decodes greedily with best and length penalty 1.0.

It decodes as `nmt translate` does, so that both print the same lines: greedy search, or beam search with
--beam N > 1 ranking finished hypotheses by score / ((5 + len) / 6)^A (GNMT length penalty); each sentence stops at min(--max-len (300), 2 × its source length (EOS included) + 10) tokens;
lines are decoded longest first, --batch-size (64) at a time; the special tokens (PAD, UNK, BOS, EOS) are
left out of the text; an empty or whitespace-only line gives an empty line.
"""

import argparse
import math
import os
import re
import sys
import tomllib
from typing import NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIAL_TOKENS = 4  # ids below this are PAD, UNK, BOS, EOS

# `nmt`'s defaults for a [model] key that config.toml leaves out.
MODEL_DEFAULTS = {
    "emb_size": 256,
    "hidden_size": 512,
    "encoder_hidden_size": 0,
    "encoder_layers": 1,
    "bidirectional": True,
    "dropout": 0.3,
    "attention": "bahdanau",
    "attention_size": 0,
    "heads": 4,
    "decoder": "bahdanau",
    "input_feeding": True,
    "bridge": True,
    "tied_embeddings": False,
}
SCORERS = ("bahdanau", "luong-dot", "luong-general", "luong-concat", "scaled-dot", "multihead")
CHECKPOINTS = {"best": "best.safetensors", "last": "last.safetensors", "averaged": "averaged.safetensors"}
# decode.toml without the file, or a key it leaves out (src/checkpoint/decode.rs).
SEARCH_DEFAULTS = {"checkpoint": "best", "length_penalty": 1.0}
DEFAULT_BEAM = 5


class Error(Exception):
    """A problem with the model directory or the input, reported without a traceback."""


def dir_size(cfg):
    """Encoder GRU state size per direction."""
    if cfg["encoder_hidden_size"]:
        return cfg["encoder_hidden_size"]
    return cfg["hidden_size"] // 2 if cfg["bidirectional"] else cfg["hidden_size"]


def memory_size(cfg):
    """Size of the encoder outputs (directions concatenated)."""
    return dir_size(cfg) * (2 if cfg["bidirectional"] else 1)


def attention_size(cfg):
    return cfg["attention_size"] or cfg["hidden_size"]


def masked_softmax(scores, mask):
    """Padded positions get probability exactly 0."""
    return scores.masked_fill(~mask, float("-inf")).softmax(-1)


class Keys(NamedTuple):
    """What every decoding step reuses: projected keys [B, S, ·], values [B, S, ·], mask [B, S]."""

    keys: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor

    def select(self, index):
        """The batch rows `index` [N], in that order (beam reordering, dropping finished rows)."""
        return Keys(self.keys[index], self.values[index], self.mask[index])


class Attention(nn.Module):
    """The six scorers. `prepare` projects the memory once per batch; `forward` scores one query."""

    def __init__(self, cfg):
        super().__init__()
        self.kind = cfg["attention"]
        self.heads = cfg["heads"]
        q, k, a = cfg["hidden_size"], memory_size(cfg), attention_size(cfg)
        if self.kind == "bahdanau":  # v^T tanh(W_k k + W_q q)
            self.w_k = nn.Linear(k, a, bias=False)
            self.w_q = nn.Linear(q, a, bias=False)
            self.v = nn.Linear(a, 1, bias=False)
        elif self.kind == "luong-general":  # q^T W k
            self.w = nn.Linear(k, q, bias=False)
        elif self.kind == "luong-concat":  # v^T tanh(W [q; k] + b), W split into its query and key halves
            self.w_q = nn.Linear(q, a, bias=True)
            self.w_k = nn.Linear(k, a, bias=False)
            self.v = nn.Linear(a, 1, bias=False)
        elif self.kind == "multihead":
            self.w_q = nn.Linear(q, a, bias=False)
            self.w_k = nn.Linear(k, a, bias=False)
            self.w_v = nn.Linear(k, a, bias=False)
            self.w_o = nn.Linear(a, k, bias=False)

    def prepare(self, memory, mask):
        """memory [B, S, D], mask [B, S] → Keys."""
        if self.kind in ("bahdanau", "luong-concat", "multihead"):
            keys = self.w_k(memory)
        elif self.kind == "luong-general":
            keys = self.w(memory)
        else:
            keys = memory
        values = self.w_v(memory) if self.kind == "multihead" else memory
        return Keys(keys, values, mask)

    def forward(self, query, k):
        """query [B, H] → context [B, D], weights [B, S]."""
        if self.kind == "multihead":
            return self.multihead(query, k)
        if self.kind in ("bahdanau", "luong-concat"):
            scores = self.v(torch.tanh(k.keys + self.w_q(query)[:, None, :]))[..., 0]
        else:
            scores = torch.bmm(k.keys, query[:, :, None])[..., 0]
            if self.kind == "scaled-dot":
                scores = scores / math.sqrt(query.shape[1])
        weights = masked_softmax(scores, k.mask)
        return torch.bmm(weights[:, None, :], k.values)[:, 0], weights

    def multihead(self, query, k):
        b, s, a = k.keys.shape
        h = self.heads
        d = a // h

        def split(t):
            """[B, S, A] → [B, h, S, d]: head i owns dimensions [i·d, (i+1)·d), as in nn.MultiheadAttention."""
            return t.view(b, s, h, d).transpose(1, 2)

        q = self.w_q(query).view(b, h, d, 1)
        heads = masked_softmax((split(k.keys) @ q)[..., 0] / math.sqrt(d), k.mask[:, None, :])  # [B, h, S]
        ctx = (heads[:, :, None, :] @ split(k.values)).reshape(b, a)
        return self.w_o(ctx), heads.mean(1)


class Encoder(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg["emb_size"])
        self.rnn = nn.GRU(cfg["emb_size"], dir_size(cfg), cfg["encoder_layers"], batch_first=True,
                          bidirectional=cfg["bidirectional"])

    def forward(self, src, lengths):
        """src [B, S], lengths [B] → memory [B, S, D] (zeros at padding), last [B, D] (top layer, fwd; bwd)."""
        packed = pack_padded_sequence(self.embed(src), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        last = torch.cat([h_n[-2], h_n[-1]], 1) if self.rnn.bidirectional else h_n[-1]
        return memory, last


class OutputBias(nn.Module):
    """With tied embeddings the output layer is the embedding matrix plus this bias (`decoder.output.bias`)."""

    def __init__(self, vocab):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(vocab))


class State(NamedTuple):
    """The decoder's recurrent state: h [B, H] and, with Luong input feeding, the attentional vector [B, H]."""

    h: torch.Tensor
    feed: torch.Tensor | None

    def select(self, index):
        return State(self.h[index], None if self.feed is None else self.feed[index])


class Decoder(nn.Module):
    """GRU decoder in two wirings. Bahdanau: attend with the previous state, GRU over [emb; context], output
    over [h; context; emb]. Luong: GRU over [emb; previous attentional vector] (input feeding) or emb, attend
    with the new state, attentional vector tanh(W_c [context; h]) as the output's input."""

    def __init__(self, cfg, vocab):
        super().__init__()
        e, h, d = cfg["emb_size"], cfg["hidden_size"], memory_size(cfg)
        self.wiring = cfg["decoder"]
        self.feeding = self.wiring == "luong" and cfg["input_feeding"]
        self.embed = nn.Embedding(vocab, e)
        if self.wiring == "bahdanau":
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
            self.output = OutputBias(vocab)
        else:
            self.output = nn.Linear(features, vocab)

    def initial_state(self, h0):
        return State(h0, torch.zeros_like(h0) if self.feeding else None)

    def step(self, y, state, keys):
        """y [B] previous tokens → logits [B, V], the next State."""
        e = self.embed(y)
        if self.wiring == "bahdanau":
            context, _ = self.attention(state.h, keys)
            h = self.rnn(torch.cat([e, context], 1), state.h)
            return self.logits(torch.cat([h, context, e], 1)), State(h, None)
        h = self.rnn(torch.cat([e, state.feed], 1) if self.feeding else e, state.h)
        context, _ = self.attention(h, keys)
        vec = torch.tanh(self.combine(torch.cat([context, h], 1)))
        return self.logits(vec), State(h, vec if self.feeding else None)

    def logits(self, features):
        if self.tied:
            return self.pre_output(features) @ self.embed.weight.T + self.output.bias
        return self.output(features)


class Seq2Seq(nn.Module):
    def __init__(self, cfg, src_vocab, tgt_vocab):
        super().__init__()
        self.encoder = Encoder(cfg, src_vocab)
        self.bridge = nn.Linear(memory_size(cfg), cfg["hidden_size"]) if cfg["bridge"] else None
        self.decoder = Decoder(cfg, tgt_vocab)
        self.hidden = cfg["hidden_size"]

    def encode(self, src, lengths):
        """src [B, S], lengths [B] → the Keys every step reuses and the decoder's initial State."""
        memory, last = self.encoder(src, lengths)
        h0 = torch.tanh(self.bridge(last)) if self.bridge is not None else last.new_zeros(len(last), self.hidden)
        return self.decoder.attention.prepare(memory, src != PAD), self.decoder.initial_state(h0)


def greedy(model, src, lengths, limits):
    """src [B, S], lengths [B], limits [B] (tokens each row may emit) → per row its tokens (EOS included
    when emitted). A row leaves the batch when it emits EOS or reaches its limit."""
    keys, state = model.encode(src, lengths)
    out = [[] for _ in range(len(src))]
    rows = torch.arange(len(src))  # the original row of every live row
    y = torch.full((len(src),), BOS)
    for t in range(int(limits.max())):
        logits, state = model.decoder.step(y, state, keys)
        y = logits.argmax(-1)
        for r, tok in zip(rows.tolist(), y.tolist()):
            out[r].append(tok)
        going = (y != EOS) & (limits[rows] > t + 1)
        if not going.all():
            keep = going.nonzero()[:, 0]
            if len(keep) == 0:
                break
            rows, y, state, keys = rows[keep], y[keep], state.select(keep), keys.select(keep)
    return out


def length_penalty(length, alpha):
    """GNMT ((5 + len) / 6)^α."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model, src, lengths, limits, k, alpha):
    """Beam search of width k over src [B, S] → per row the best hypothesis's tokens.

    Per step every live row proposes its best continuations; a sentence's candidates are taken best first
    until k of them continue or the sentence has k finished hypotheses. A candidate ending in EOS, or made
    at the sentence's length limit, is finished; the others are the next live rows. A sentence with k
    finished hypotheses (or no live ones) leaves the batch. Finished hypotheses are ranked by
    score / length_penalty (the live ones would follow, but none is left: the limit finishes them all).
    """
    b = len(src)
    keys, state = model.encode(src, lengths)
    rows = torch.arange(b).repeat_interleave(k)
    keys, state = keys.select(rows), state.select(rows)
    # Row j of sentence i is live hypothesis j; an empty slot scores -inf (at the start all but one are).
    scores = torch.full((b, k), float("-inf"), dtype=torch.float64)
    scores[:, 0] = 0.0
    history = torch.empty((b * k, 0), dtype=torch.long)  # the tokens of each live row
    y = torch.full((b * k,), BOS)
    sents = torch.arange(b)  # the original sentence of every live sentence
    finished = [[] for _ in range(b)]  # per sentence: (tokens, score), in the order they finished
    t = 0
    while len(sents):
        logits, state = model.decoder.step(y, state, keys)
        n, v = len(sents), logits.shape[1]
        # Scores summed in float64 from float32 log-probabilities.
        cand = (scores.view(-1, 1) + logits.log_softmax(-1).double()).view(n, k * v)
        # The 2k best of the sentence suffice: each candidate taken adds a live hypothesis (at most k) or a
        # finished one (at most k in all), and the walk stops when either is full.
        top, index = cand.topk(min(2 * k, k * v), dim=1)
        beam, tok = index // v, index % v
        real = top.isfinite()
        ends = (tok == EOS) | (limits[sents] <= t + 1)[:, None]
        to_finish, to_live = real & ends, real & ~ends
        had = torch.tensor([len(finished[s]) for s in sents.tolist()])
        live_before = to_live.cumsum(1) - to_live.long()
        finished_before = had[:, None] + to_finish.cumsum(1) - to_finish.long()
        taken = real & (live_before < k) & (finished_before < k)
        to_finish, to_live = to_finish & taken, to_live & taken
        for r, c in to_finish.nonzero().tolist():
            tokens = history[r * k + beam[r, c]].tolist() + [int(tok[r, c])]
            finished[int(sents[r])].append((tokens, float(top[r, c])))
        # The next live rows: each sentence's continuing candidates in order, then empty slots.
        slot = torch.sort((~to_live).to(torch.int8), dim=1, stable=True).indices[:, :k]
        filled = to_live.gather(1, slot)
        origin = torch.arange(n)[:, None] * k + beam.gather(1, slot)  # [n, k] row each slot continues
        scores = torch.where(filled, top.gather(1, slot), float("-inf"))
        y_next = tok.gather(1, slot)
        going = (had + to_finish.sum(1) < k) & filled.any(1)
        keep = going.nonzero()[:, 0]
        if len(keep) < n:
            sents, scores, origin, y_next = sents[keep], scores[keep], origin[keep], y_next[keep]
        origin = origin.view(-1)
        history = torch.cat([history[origin], y_next.view(-1, 1)], 1)
        keys, state, y = keys.select(origin), state.select(origin), y_next.view(-1)
        t += 1
    best = []
    for hyps in finished:
        hyps = sorted(hyps, key=lambda h: -h[1] / length_penalty(len(h[0]), alpha))  # stable: ties keep order
        best.append(hyps[0][0])
    return best


class Translator:
    """A model directory loaded: the network and both tokenizers."""

    def __init__(self, model, src_tok, tgt_tok):
        self.model, self.src_tok, self.tgt_tok = model, src_tok, tgt_tok

    def translate(self, lines, beam=1, alpha=1.0, batch_size=64, max_len=300):
        """Translations of `lines`, in order. Like `nmt translate`: lines in groups of 8 batches, each group
        decoded longest source first, `batch_size` sentences at a time."""
        out = []
        for start in range(0, len(lines), batch_size * 8):
            out.extend(self.translate_group(lines[start:start + batch_size * 8], beam, alpha, batch_size, max_len))
        return out

    def translate_group(self, lines, beam, alpha, batch_size, max_len):
        sources = [self.src_tok.encode(line, add_special_tokens=False).ids for line in lines]
        sources = [ids + [EOS] if ids else [] for ids in sources]
        order = sorted((i for i, ids in enumerate(sources) if ids), key=lambda i: -len(sources[i]))
        hyps = [[] for _ in lines]
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            lengths = torch.tensor([len(sources[i]) for i in chunk])
            src = torch.full((len(chunk), int(lengths.max())), PAD)
            for r, i in enumerate(chunk):
                src[r, : len(sources[i])] = torch.tensor(sources[i])
            # As `nmt`'s MaxLen: min(cap, 2 × source length + 10), at least 1.
            limits = (2 * lengths + 10).clamp(max=max_len).clamp(min=1)
            with torch.inference_mode():
                if beam <= 1:
                    out = greedy(self.model, src, lengths, limits)
                else:
                    out = beam_search(self.model, src, lengths, limits, beam, alpha)
            for i, tokens in zip(chunk, out):
                hyps[i] = tokens
        return [self.tgt_tok.decode([t for t in h if t >= SPECIAL_TOKENS], skip_special_tokens=False) for h in hyps]


class Decoding(NamedTuple):
    """What one translation run decodes with: checkpoint, beam size and length penalty."""

    checkpoint: str
    beam: int
    length_penalty: float


def decoding(model_dir, checkpoint=None, beam=None, length_penalty=None):
    """The decoding of model directory `model_dir`: each argument left None is taken from its `decode.toml`
    as `nmt translate` takes it (the `default` search's beam size; then the [greedy] or [beam] section's
    checkpoint and length penalty), or from the built-in defaults without the file. An `averaged` checkpoint
    named by the file must average the snapshot steps the file lists."""
    path = os.path.join(model_dir, "decode.toml")
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except FileNotFoundError:
        table = {}
    except tomllib.TOMLDecodeError as e:
        raise Error(f"{path}: {e}") from None
    sections = {}
    for name in ("greedy", "beam"):
        section = table.get(name, {})
        if not isinstance(section, dict):
            raise Error(f"{path}: {name} must be a table")
        allowed = {"checkpoint", "steps", "length_penalty"} | ({"beam"} if name == "beam" else set())
        unknown = sorted(set(section) - allowed)
        if unknown:
            raise Error(f"{path}: no such key {name}.{unknown[0]}")
        sections[name] = {**SEARCH_DEFAULTS, **section}
        if sections[name]["checkpoint"] not in CHECKPOINTS:
            raise Error(f"{path}: {name}.checkpoint = {sections[name]['checkpoint']!r} is none of "
                        f"{', '.join(CHECKPOINTS)}")
    unknown = sorted(set(table) - {"default", "greedy", "beam"})
    if unknown:
        raise Error(f"{path}: no such key {unknown[0]}")
    default = table.get("default", "greedy")
    if default not in ("greedy", "beam"):
        raise Error(f"{path}: default = {default!r} is neither greedy nor beam")
    if beam is None:
        beam = sections["beam"].get("beam", DEFAULT_BEAM) if default == "beam" else 1
    section = sections["beam" if beam > 1 else "greedy"]
    if checkpoint is None:
        checkpoint = section["checkpoint"]
        if checkpoint == "averaged":
            check_averaged(model_dir, section.get("steps", []), path)
    if length_penalty is None:
        length_penalty = float(section["length_penalty"])
    return Decoding(checkpoint, beam, length_penalty)


def check_averaged(model_dir, steps, decode_path):
    """Refuses an averaged.safetensors that does not average the snapshot steps `steps` (its metadata
    `nmt.averaged_from` lists the snapshot files `nmt average` read, `step-N.safetensors`)."""
    path = os.path.join(model_dir, CHECKPOINTS["averaged"])
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # a missing or broken file: safetensors raises its own errors
        raise Error(f"{path}: cannot read it: {e}") from None
    files = [name for name in meta.get("nmt.averaged_from", "").split(",") if name]
    found = sorted(int(m.group(1)) if (m := re.fullmatch(r"step-(\d+)\.safetensors", name)) else -1 for name in files)
    if found != sorted(steps):
        raise Error(f"{path} averages steps {found}, but {decode_path} names steps {sorted(steps)}")


def load(model_dir, checkpoint="best"):
    """The model directory `model_dir` with the weights of `checkpoint` (best, last or averaged) → Translator."""

    def path(name):
        p = os.path.join(model_dir, name)
        if not os.path.isfile(p):
            raise Error(f"{p}: no such file" + (" (is this an nmt model directory?)" if name == "config.toml" else ""))
        return p

    config_path = path("config.toml")
    with open(config_path, "rb") as f:
        try:
            model_section = tomllib.load(f).get("model", {})
        except tomllib.TOMLDecodeError as e:
            raise Error(f"{config_path}: {e}") from None
    unknown = sorted(set(model_section) - set(MODEL_DEFAULTS))
    if unknown:
        raise Error(f"{config_path}: unknown key model.{unknown[0]}")
    cfg = {**MODEL_DEFAULTS, **model_section}
    if cfg["attention"] not in SCORERS:
        raise Error(f"{config_path}: model.attention = {cfg['attention']!r} is none of {', '.join(SCORERS)}")
    if cfg["decoder"] not in ("bahdanau", "luong"):
        raise Error(f"{config_path}: model.decoder = {cfg['decoder']!r} is neither bahdanau nor luong")
    tokenizers = []
    for side in ("src", "tgt"):
        p = path(f"tokenizer.{side}.json")
        try:
            tokenizers.append(Tokenizer.from_file(p))
        except Exception as e:  # the tokenizers package raises plain Exceptions
            raise Error(f"{p}: not a valid tokenizer file: {e}") from None
    src_tok, tgt_tok = tokenizers
    if checkpoint not in CHECKPOINTS:
        raise Error(f"--checkpoint {checkpoint}: expected one of {', '.join(CHECKPOINTS)}")
    weights_path = path(CHECKPOINTS[checkpoint])
    model = Seq2Seq(cfg, src_tok.get_vocab_size(with_added_tokens=True), tgt_tok.get_vocab_size(with_added_tokens=True))
    try:
        weights = load_file(weights_path)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise Error(f"{weights_path}: not a valid weights file: {e}") from None
    weights = {name: w for name, w in weights.items() if not name.startswith("adam.")}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise Error(f"{weights_path}: does not fit the model of config.toml: {e}") from None
    return Translator(model.eval(), src_tok, tgt_tok)


def read_lines(stream):
    """The lines of a UTF-8 stream as `nmt` reads them: a leading byte-order mark and CRLF ends accepted,
    empty lines kept, a last line without a newline counted."""
    data = stream.read()
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            out.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as e:
            raise Error(f"<stdin>:{number}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return out


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1 (got {value})")
    return value


def non_negative(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number ≥ 0 (got {text})")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="an nmt model directory")
    parser.add_argument("--checkpoint", choices=list(CHECKPOINTS),
                        help="which weights (decode.toml's for the search, else best)")
    parser.add_argument("--beam", type=positive, metavar="N",
                        help="beam size; 1 = greedy search (decode.toml's default search, else 1)")
    parser.add_argument("--length-penalty", type=non_negative, metavar="A",
                        help="GNMT length-penalty exponent α for beam search; 0 = off (decode.toml's, else 1.0)")
    parser.add_argument("--batch-size", type=positive, default=64, metavar="N", help="sentences per batch (64)")
    parser.add_argument("--max-len", type=positive, default=300, metavar="N",
                        help="longest translation in tokens; each sentence also stops at 2 × its source "
                             "length + 10 (300)")
    parser.add_argument("--threads", type=positive, metavar="N", help="torch intra-op threads (torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        d = decoding(args.model_dir, args.checkpoint, args.beam, args.length_penalty)
        translator = load(args.model_dir, d.checkpoint)
        lines = read_lines(sys.stdin.buffer)
        out = translator.translate(lines, d.beam, d.length_penalty, args.batch_size, args.max_len)
    except Error as e:
        sys.exit(f"torch_nmt.py: error: {e}")
    sys.stdout.write("".join(f"{line}\n" for line in out))


if __name__ == "__main__":
    main()
