//! The GRU recurrence outside libtorch's fused module: the update that the decoder's cell and the
//! encoder's inference loop share, and that loop ([`stack`]), a (bi)GRU over length-sorted sequences
//! whose products go through oneDNN ([`crate::model::onednn`]) — libtorch's `gru` multiplies with MKL,
//! about half as fast on this project's CPU where MKL chooses its kernels by vendor (a program linked
//! without [`crate::mkl_dispatch`]'s flags). Training keeps libtorch's `gru` (it has the gradient).

use crate::model::onednn;
use tch::{Kind, Tensor};

/// The GRU update. gi, gh: `[B, 3H]` input and recurrent pre-activations (biases included, gates in
/// PyTorch's order r, z, n), h `[B, H]` → the next state `[B, H]`. Few, fused ops: r and z in one
/// sigmoid, `gi_n + r·gh_n` as one addcmul, and `n + z·(h − n)` as one lerp.
pub fn update(gi: &Tensor, gh: &Tensor, h: &Tensor) -> Tensor {
    let hs = h.size()[1];
    let rz = (gi.narrow(1, 0, 2 * hs) + gh.narrow(1, 0, 2 * hs)).sigmoid();
    let n = gi.narrow(1, 2 * hs, hs).addcmul(&rz.narrow(1, 0, hs), &gh.narrow(1, 2 * hs, hs)).tanh();
    n.lerp_tensor(h, &rz.narrow(1, hs, hs))
}

/// `x · wᵀ + b`: x `[M, in]`, w `[out, in]`, b `[out]` → `[M, out]`, through oneDNN where it takes it.
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    onednn::linear(x, w, Some(b)).unwrap_or_else(|| b.addmm(x, &w.tr()))
}

/// A stack of `layers` GRU layers (both directions when `bidirectional`) for inference, as libtorch's
/// `gru` over packed sequences computes it. x: `[B, S, in]`, rows sorted by `lengths` (descending,
/// each ≥ 1); `params` in PyTorch's order (per layer and direction: `w_ih [3H, in]`, `w_hh [3H, H]`,
/// `b_ih`, `b_hh`) → outputs `[B, S, dirs·H]` (zero at padded positions) and final states
/// `[layers·dirs, B, H]` (the state after each row's last real position).
pub fn stack(x: &Tensor, lengths: &[i64], params: &[Tensor], layers: i64, bidirectional: bool) -> (Tensor, Tensor) {
    let dirs = if bidirectional { 2 } else { 1 };
    let mut input = x.shallow_clone();
    let mut finals = Vec::new();
    for layer in 0..layers {
        let mut outputs = Vec::new();
        for dir in 0..dirs {
            let p = &params[((layer * dirs + dir) * 4) as usize..][..4];
            let (out, last) = direction(&input, lengths, [&p[0], &p[1], &p[2], &p[3]], dir == 1);
            outputs.push(out);
            finals.push(last);
        }
        input = Tensor::cat(&outputs, 2);
    }
    (input, Tensor::stack(&finals, 0))
}

/// One direction of one layer: x `[B, S, in]` (rows sorted by `lengths`, descending) → outputs
/// `[B, S, H]` and final states `[B, H]`. At position t only the rows longer than t (a prefix of
/// the batch) step; the others keep their state, as in a packed sequence.
fn direction(x: &Tensor, lengths: &[i64], [w_ih, w_hh, b_ih, b_hh]: [&Tensor; 4], reverse: bool) -> (Tensor, Tensor) {
    let (b, s, inputs) = x.size3().expect("x must be [B, S, in]");
    let hs = w_hh.size()[1];
    let gi_all = linear(&x.reshape([b * s, inputs]), w_ih, b_ih).view([b, s, 3 * hs]);
    let out = Tensor::zeros([b, s, hs], (Kind::Float, x.device()));
    let h = Tensor::zeros([b, hs], (Kind::Float, x.device()));
    let order: Vec<i64> = if reverse { (0..s).rev().collect() } else { (0..s).collect() };
    for t in order {
        let rows = lengths.iter().take_while(|&&len| len > t).count() as i64;
        if rows == 0 {
            continue;
        }
        let h_prev = h.narrow(0, 0, rows);
        let next = update(&gi_all.narrow(0, 0, rows).select(1, t), &linear(&h_prev, w_hh, b_hh), &h_prev);
        out.narrow(0, 0, rows).select(1, t).copy_(&next);
        h.narrow(0, 0, rows).copy_(&next);
    }
    (out, h)
}
