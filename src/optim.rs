//! Adam with its state kept by us (tch's built-in optimizer cannot save its moments), so `last` holds
//! the moments and `--resume` continues exactly; plus global gradient-norm clipping.

use crate::error::Result;
use tch::{nn::VarStore, Kind, Tensor};

/// Adam (Kingma & Ba) with optional L2 weight decay, over the trainable variables of a `VarStore`.
#[derive(Debug)]
pub struct Adam {
    /// (name, parameter, first moment, second moment), sorted by name.
    slots: Vec<(String, Tensor, Tensor, Tensor)>,
    /// Number of updates done so far (for bias correction).
    pub step: i64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl Adam {
    /// Fresh state for every trainable variable of `vs`.
    pub fn new(vs: &VarStore, beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Adam {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(n, p)| {
                let (m, v) = (p.zeros_like(), p.zeros_like());
                (n, p, m, v)
            })
            .collect();
        Adam { slots, step: 0, beta1, beta2, eps, weight_decay }
    }

    /// One update with learning rate `lr`, from the gradients currently held by the parameters.
    pub fn update(&mut self, lr: f64) {
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        for (_, p, m, v) in self.slots.iter_mut() {
            let grad = p.grad();
            if !grad.defined() {
                continue;
            }
            // Not in place: the gradient stays as backward left it.
            let g = if self.weight_decay > 0.0 { grad + &*p * self.weight_decay } else { grad };
            // In place where possible (few passes over the parameters): m ← β1·m + (1−β1)·g and
            // v ← β2·v + (1−β2)·g² as lerps, then p ← p − (lr/bc1)·m / (√v/√bc2 + ε) with the step size
            // folded into the denominator.
            let _ = m.lerp_(&g, 1.0 - self.beta1);
            let _ = v.lerp_(&g.square(), 1.0 - self.beta2);
            let step = -lr / bc1;
            if step == 0.0 {
                continue;
            }
            let mut denom = v.sqrt();
            let _ = denom.g_mul_scalar_(1.0 / (bc2.sqrt() * step)).g_add_scalar_(self.eps / step);
            let _ = p.addcdiv_(m, &denom);
        }
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in self.slots.iter_mut() {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<f64> {
        let _guard = tch::no_grad_guard();
        let grads: Vec<Tensor> = self.slots.iter().map(|(_, p, _, _)| p.grad()).filter(|g| g.defined()).collect();
        if grads.is_empty() {
            return Ok(0.0);
        }
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm().to_kind(Kind::Float)).collect();
        let total = f64::try_from(Tensor::stack(&norms, 0).norm())?;
        if max_norm > 0.0 && total > max_norm {
            let scale = max_norm / (total + 1e-6);
            for mut g in grads {
                let _in_place = g.f_mul_scalar_(scale)?;
            }
        }
        Ok(total)
    }

    /// The moments as named tensors (`adam.m.NAME`, `adam.v.NAME`) for the `last` checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .flat_map(|(n, _, m, v)| {
                [(format!("adam.m.{n}"), m.shallow_clone()), (format!("adam.v.{n}"), v.shallow_clone())]
            })
            .collect()
    }

    /// Restores the moments from named tensors; `Err(name)` names the first one missing or mis-shaped.
    pub fn load_state(&mut self, get: impl Fn(&str) -> Option<Tensor>, step: i64) -> Result<(), String> {
        let _guard = tch::no_grad_guard();
        for (n, _, m, v) in self.slots.iter_mut() {
            for (prefix, slot) in [("adam.m.", &mut *m), ("adam.v.", &mut *v)] {
                let name = format!("{prefix}{n}");
                let t = get(&name).ok_or_else(|| name.clone())?;
                if t.size() != slot.size() {
                    return Err(name);
                }
                slot.copy_(&t);
            }
        }
        self.step = step;
        Ok(())
    }
}
