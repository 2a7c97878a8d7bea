#!/usr/bin/env python3
"""Writes tests/fixtures/int8/int8.safetensors: PyTorch's per-output-channel int8 quantization of a
weight matrix and aten's `_weight_int8pack_mm` products, for src/model/int8.rs's test.

src/model/int8.rs quantizes by hand (symmetric, one scale per output channel: s = max|w_row| / 127,
q = round(w / s) clamped to -127..127, a row of zeros gets s = 1) and multiplies through the kernel
with bf16 activations and scales. The file holds (float32 unless said):
  - `w` [24, 48]: rows of magnitudes from 1e-3 to 10, one row of zeros (row 5);
  - `x` [3, 48]: activations;
  - `q` [24, 48] int8 and `scales` [24]: the quantization, computed here in float64 from the float32 w
    and rounded once, so they are the exact answer (the Rust float32 computation must give the same q
    and scales within one float32 ulp);
  - `y_f32` [3, 24]: x · (q · s)ᵀ in float64, the exact product of the dequantized weights;
  - `y_bf16` [3, 24]: what the kernel returns for bf16(x), q and bf16(s), widened to float32.

Regenerate (deterministic for a given PyTorch version; the venv is the one scripts/setup.sh creates):

    "${NMT_HOME:-$HOME/.cache/nmt}/venv/bin/python" scripts/int8_fixtures.py
"""

import os

import torch
from safetensors.torch import save_file

torch.manual_seed(7)
rows, cols = 24, 48
w = torch.randn(rows, cols) * torch.logspace(-3, 1, rows).unsqueeze(1)
w[5] = 0
x = torch.randn(3, cols)

w64 = w.double()
peak = w64.abs().amax(1)
scales64 = torch.where(peak > 0, peak / 127, torch.ones_like(peak))
q = torch.round(w64 / scales64.unsqueeze(1)).clamp(-127, 127).to(torch.int8)
scales = scales64.float()
y_f32 = (x.double() @ (q.double() * scales.double().unsqueeze(1)).t()).float()
y_bf16 = torch._weight_int8pack_mm(x.bfloat16(), q, scales.bfloat16()).float()

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "int8", "int8.safetensors")
os.makedirs(os.path.dirname(out), exist_ok=True)
save_file({"w": w, "x": x, "q": q, "scales": scales, "y_f32": y_f32, "y_bf16": y_bf16}, out)
print(f"wrote {out}")
