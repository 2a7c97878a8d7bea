//! `nmt::optim::Adam` does what torch.optim.Adam and torch.nn.utils.clip_grad_norm_ do. Each file in
//! tests/fixtures/optim/ (written by scripts/optim_fixtures.py) holds starting parameters, one gradient per
//! step, a learning rate per step, and PyTorch's gradient norm, parameters and moments after every step.
//! The Rust optimizer gets the same gradients and is driven as `nmt::train::train_step` drives it
//! (`zero_grad`, backward, `clip_grad_norm` when clipping is on, `update(lr)`); after every step each
//! parameter and moment must match PyTorch's float64 answer within `TOLERANCE`.

use nmt::checkpoint::load_weights;
use nmt::optim::Adam;
use std::collections::HashMap;
use std::path::PathBuf;
use tch::{nn, Device, Kind, Tensor};

/// Largest allowed max |rust − pytorch|, as a fraction of the compared tensor's largest element (or of
/// 1, if larger, for parameters: their errors are absolute roundings of values of order 1). Float32 against float64 measured at most 3.1e-7 (a second moment),
/// 7.8e-8 for a parameter; a real difference in the update is orders of magnitude larger (one step
/// moves a parameter by about lr ≥ 5e-3).
const TOLERANCE: f64 = 2e-6;

/// The `fixture` metadata entry.
#[derive(serde::Deserialize)]
struct About {
    /// One learning rate per step.
    lr: Vec<f64>,
    betas: [f64; 2],
    eps: f64,
    weight_decay: f64,
    /// 0 = no clipping.
    max_norm: f64,
}

/// max |got − want| / max(max |want|, floor): the error relative to the tensor's scale, or absolute
/// below `floor`.
fn scaled_error(got: &Tensor, want: &Tensor, floor: f64) -> f64 {
    assert_eq!(got.size(), want.size(), "shape");
    let (got, want) = (got.to_kind(Kind::Double), want.to_kind(Kind::Double));
    let scale = f64::try_from(want.abs().max()).unwrap().max(floor);
    f64::try_from((got - want).abs().max()).unwrap() / scale
}

/// Runs the fixture `adam-<case>` and checks every step against PyTorch.
fn check(case: &str) {
    tch::set_num_threads(1);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/optim/adam-{case}.safetensors"));
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/optim_fixtures.py)", path.display()));
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let about: About = serde_json::from_str(&header.metadata().as_ref().unwrap()["fixture"]).unwrap();

    let vs = nn::VarStore::new(Device::Cpu);
    let layer = vs.root() / "layer";
    let _ = (layer.zeros("weight", &[3, 4]), layer.zeros("bias", &[4]));
    // Every variable must be in the file with its shape, and the file may hold nothing else.
    let (_, io) = load_weights(&path, &vs, |n| n.starts_with("in.") || n.starts_with("out."))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let get = |key: &str| io.get(key).unwrap_or_else(|| panic!("{case}: no tensor {key}"));
    let params: HashMap<String, Tensor> = vs.variables();

    let mut adam = Adam::new(&vs, about.betas[0], about.betas[1], about.eps, about.weight_decay);
    for (i, &lr) in about.lr.iter().enumerate() {
        let k = i + 1;
        // d/dp Σ p·g = g exactly, so backward leaves the fixture's gradient in every parameter.
        let terms: Vec<Tensor> =
            params.iter().map(|(n, p)| (p * get(&format!("in.grad.{k}.{n}"))).sum(Kind::Float)).collect();
        let loss = Tensor::stack(&terms, 0).sum(Kind::Float);
        adam.zero_grad();
        loss.backward();
        for (n, p) in &params {
            assert!(
                p.grad().equal(get(&format!("in.grad.{k}.{n}"))),
                "{case} step {k}: {n}'s gradient is not the given one"
            );
        }
        if about.max_norm > 0.0 {
            let norm = Tensor::from_slice(&[adam.clip_grad_norm(about.max_norm).unwrap()]);
            let err = scaled_error(&norm, get(&format!("out.norm.{k}")), 0.0);
            assert!(err <= TOLERANCE, "{case} step {k}: gradient norm off by {err:e}");
        }
        adam.update(lr);
        assert_eq!(adam.step, k as i64, "{case}: step count");

        for (n, p) in &params {
            let err = scaled_error(p, get(&format!("out.param.{k}.{n}")), 1.0);
            assert!(err <= TOLERANCE, "{case} step {k} (lr {lr}): {n} off by {err:e}");
        }
        let moments: HashMap<String, Tensor> = adam.state_tensors().into_iter().collect();
        for n in params.keys() {
            for m in ["m", "v"] {
                let got = moments.get(&format!("adam.{m}.{n}")).unwrap_or_else(|| panic!("no moment {m} for {n}"));
                let err = scaled_error(got, get(&format!("out.{m}.{k}.{n}")), 0.0);
                assert!(err <= TOLERANCE, "{case} step {k}: moment {m} of {n} off by {err:e}");
            }
        }
    }
}

#[test]
fn adam_matches_pytorch_over_steps_with_a_changing_learning_rate() {
    check("plain");
}

#[test]
fn adam_weight_decay_is_l2_added_to_the_gradient_as_in_pytorch() {
    check("weight-decay");
}

#[test]
fn clipping_then_adam_with_weight_decay_matches_pytorch_on_clipped_and_unclipped_steps() {
    check("clipped-weight-decay");
}
