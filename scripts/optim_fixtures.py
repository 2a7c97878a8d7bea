#!/usr/bin/env python3
"""Writes tests/fixtures/optim/adam-*.safetensors: torch.optim.Adam's trajectory over a few given gradients.

src/optim.rs writes Adam by hand (so that its moments can be saved for an exact `--resume`), with L2
weight decay added to the gradient (torch.optim.Adam's `weight_decay`, not AdamW's decoupled decay) and
global gradient-norm clipping. tests/optim_adam.rs drives it the way `nmt::train::train_step` does
(gradients, then `clip_grad_norm(max_norm)` when clipping is on, then `update(lr)`) over the gradients
in these files and checks it against what torch.nn.utils.clip_grad_norm_ and torch.optim.Adam do.

Each file holds, in one safetensors file (all float32):
  - the initial parameters under their VarStore names: `layer.weight` [3, 4], `layer.bias` [4];
  - `in.grad.<k>.<name>`: the gradient given at step k = 1..STEPS (different every step; each step
    scales its gradients by its own factor, so clipping acts on some steps and not on others);
  - `out.norm.<k>` [1]: the global L2 gradient norm before clipping, as clip_grad_norm_ returns it
    (written even where the case does not clip);
  - `out.param.<k>.<name>`, `out.m.<k>.<name>`, `out.v.<k>.<name>`: the parameters and Adam's first
    and second moments (`exp_avg`, `exp_avg_sq`) after step k;
  - metadata `fixture`: JSON with `lr` (one learning rate per step: it changes, and one step has lr 0,
    which must still move the moments), `betas`, `eps`, `weight_decay` and `max_norm` (0 = no clipping).
Cases: `plain` (no decay, no clipping), `weight-decay` (0.1) and `clipped-weight-decay` (0.1, max_norm 1:
the decay term is added after clipping, as in PyTorch, where it is not part of `.grad`).

The parameters and gradients are drawn in float32; PyTorch then runs in float64 from those exact values,
so the outputs are the exact answer up to float64 rounding. The Rust float32 computation has to land within
2e-6 of each tensor's scale (`TOLERANCE` in tests/optim_adam.rs; measured at most 3.1e-7). The script
checks that weight decay and clipping each change the parameters by more than 1e-3, so a Rust Adam that
ignored either could not pass.

Regenerate (deterministic for a given PyTorch version; the venv is the one scripts/setup.sh creates):

    NMT_HOME=${NMT_HOME:-$HOME/.cache/nmt}
    "$NMT_HOME/venv/bin/python" -m pip install safetensors==0.8.0 numpy
    "$NMT_HOME/venv/bin/python" scripts/optim_fixtures.py
"""

import json
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "optim")

SHAPES = {"layer.weight": (3, 4), "layer.bias": (4,)}
# One learning rate per step: warm-up, peak, a zero (moments move, parameters do not), decay.
LR = [0.01, 0.03, 0.0, 0.02, 0.005]
# Each step's gradient scale: with max_norm 1, steps 1, 2 and 4 are clipped, 3 and 5 are not.
GRAD_SCALE = [1.0, 3.0, 0.05, 2.0, 0.1]
STEPS = len(LR)
BETAS, EPS = (0.9, 0.999), 1e-8
# Every case starts from the same parameters and gets the same gradients, so they differ only by what
# they test.
SEED = 1


def case(name, weight_decay, max_norm):
    """Writes one case; returns its last parameters."""
    gen = torch.Generator().manual_seed(SEED)
    init = {n: torch.randn(s, generator=gen) for n, s in SHAPES.items()}
    grads = [{n: torch.randn(s, generator=gen) * scale for n, s in SHAPES.items()} for scale in GRAD_SCALE]
    params = {n: torch.nn.Parameter(t.double()) for n, t in init.items()}
    opt = torch.optim.Adam(params.values(), lr=LR[0], betas=BETAS, eps=EPS, weight_decay=weight_decay)
    tensors = dict(init)
    clipped = []
    for k, lr in enumerate(LR, 1):
        for n, p in params.items():
            p.grad = grads[k - 1][n].double()
            tensors[f"in.grad.{k}.{n}"] = grads[k - 1][n]
        # max_norm inf measures the norm and leaves the gradients alone.
        norm = torch.nn.utils.clip_grad_norm_(params.values(), max_norm or float("inf"))
        tensors[f"out.norm.{k}"] = norm.reshape(1)
        if max_norm:
            # Far from the threshold, so that float32 and float64 agree on whether to clip.
            assert abs(norm.item() / max_norm - 1) > 0.1, f"{name} step {k}: norm {norm.item()} is near max_norm"
            clipped.append(norm.item() > max_norm)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        for n, p in params.items():
            state = opt.state[p]
            tensors[f"out.param.{k}.{n}"] = p.detach().clone()
            tensors[f"out.m.{k}.{n}"] = state["exp_avg"].clone()
            tensors[f"out.v.{k}.{n}"] = state["exp_avg_sq"].clone()
    if max_norm:
        assert any(clipped) and not all(clipped), f"{name}: clipping must act on some steps only: {clipped}"
    about = {"lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": weight_decay, "max_norm": max_norm}
    # One metadata key: safetensors writes several in random order, and the files should regenerate
    # byte for byte.
    meta = {"fixture": json.dumps(about, sort_keys=True)}
    f32 = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(f32, os.path.join(OUT, f"adam-{name}.safetensors"), metadata=meta)
    print(f"wrote adam-{name}.safetensors: {len(f32)} tensors")
    return torch.cat([p.detach().flatten() for p in params.values()])


def main():
    os.makedirs(OUT, exist_ok=True)
    plain = case("plain", 0.0, 0.0)
    decayed = case("weight-decay", 0.1, 0.0)
    clipped = case("clipped-weight-decay", 0.1, 1.0)
    # Each case must be told apart from the one before by far more than the Rust tests' tolerance, or
    # an Adam that ignored weight decay or clipping would pass.
    for a, b, what in [(plain, decayed, "weight decay"), (decayed, clipped, "clipping")]:
        assert (a - b).abs().max() > 1e-3, f"{what} barely changes the parameters"


if __name__ == "__main__":
    main()
