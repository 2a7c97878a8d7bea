//! `nmt train`: the config from `--config` and `--set`s (or the saved one with `--resume`), signal
//! handling, and the summary line; the training loop is the library's.

use super::args::TrainArgs;
use nmt::checkpoint;
use nmt::config::Config;
use nmt::error::{Error, Result};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tch::Device;

pub fn train(a: TrainArgs, device: Device) -> Result<()> {
    let config = if a.resume {
        let (saved, _, _) = checkpoint::read_dir_meta(&a.out)?;
        let origin = a.out.join(checkpoint::CONFIG_FILE).display().to_string();
        // Re-running the original command with --resume is fine: its --config and its data.* or model.*
        // values may be given again, only not changed (the weights and tokenizers were built from them).
        let (wanted, given) = match &a.config {
            Some(path) => (Config::load(path, &a.set)?, format!("--config {}", path.display())),
            None => (saved.with_overrides(&a.set, &origin)?, "--set".to_string()),
        };
        let changed = saved.changed_fields(&wanted);
        if !changed.is_empty() {
            return Err(Error::Usage(format!(
                "--resume: only train.* fields can change, but {given} changes the saved {origin}: {}",
                changed.join(", ")
            )));
        }
        Config { train: wanted.train, ..saved }
    } else {
        match &a.config {
            Some(path) => Config::load(path, &a.set)?,
            None => Config::from_overrides(&a.set)?,
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop (save `last`); a second one, while that is under way, exits
        // at once (every file is written atomically, so nothing is left half-written).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| Error::io("signal handler", e))?;
    }
    let opts = nmt::train::RunOptions { out: a.out.clone(), resume: a.resume, device, log_every: a.log_every, stop };
    let summary = nmt::train::train(config, &opts)?;
    let s = &summary.state;
    match summary.reason {
        nmt::train::StopReason::Interrupted => eprintln!(
            "interrupted at step {}: saved {}/last.safetensors; continue with: nmt train --out {} --resume",
            s.step,
            a.out.display(),
            a.out.display()
        ),
        reason => eprintln!(
            "done ({reason:?}) after {} steps, {} epochs, {:.1} min; best dev BLEU {:.2} at step {} → {}",
            s.step,
            s.epoch,
            s.minutes,
            s.best_bleu.unwrap_or(0.0),
            s.best_step,
            a.out.join(checkpoint::BEST).display()
        ),
    }
    Ok(())
}
