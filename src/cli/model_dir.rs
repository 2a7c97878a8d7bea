//! `nmt info` (what a model directory holds) and `nmt average` (the mean of its weight snapshots).

use super::args::{AverageArgs, InfoArgs};
use super::write_lines;
use nmt::checkpoint;
use nmt::engine::ModelInfo;
use nmt::error::{Error, Result};
use tch::Device;

pub fn info(a: InfoArgs) -> Result<()> {
    let info = ModelInfo::read(&a.model)?;
    if a.json {
        let json =
            serde_json::to_string(&info).map_err(|e| Error::Serialize { what: "the model facts", source: e.into() })?;
        return write_lines(None, &[json]);
    }
    let mut out = Vec::new();
    // The weights present are loaded, so that a broken file is reported.
    for &which in &info.checkpoints {
        if let Err(e) = checkpoint::load(&a.model, which, Device::Cpu) {
            out.push(format!("unusable checkpoint: {e}"));
        }
    }
    out.push(format!("model directory: {}", a.model.display()));
    out.push(format!("parameters: {} ({:.2} M)", info.parameters, info.parameters as f64 / 1e6));
    out.push(format!("vocabulary: source {} tokens, target {} tokens", info.vocab.src, info.vocab.tgt));
    let names: Vec<&str> = info.checkpoints.iter().map(|w| w.file()).collect();
    out.push(format!("checkpoints: {}", if names.is_empty() { "none".into() } else { names.join(", ") }));
    if let Some(t) = &info.training {
        let best = t.best_bleu.map_or("none".to_string(), |b| format!("{b:.2} at step {}", t.best_step));
        out.push(format!(
            "training: step {}, epoch {}, {:.1} min, {}; best dev BLEU {best}",
            t.step,
            t.epoch,
            t.minutes,
            if t.finished { "finished" } else { "not finished" }
        ));
    }
    if !info.snapshots.is_empty() {
        let steps: Vec<String> = info.snapshots.iter().map(usize::to_string).collect();
        out.push(format!("weight snapshots (for nmt average): steps {}", steps.join(", ")));
    }
    match &info.decode {
        Some(d) => out.push(format!("\n# decode.toml (decoding defaults)\n{}", d.to_toml_string()?.trim_end())),
        None => out.push("\nno decode.toml: greedy search with best, length penalty 1.0 by default".into()),
    }
    out.push(format!("\n# config.toml\n{}", info.config.to_toml_string()?));
    write_lines(None, &out)
}

pub fn average(a: AverageArgs) -> Result<()> {
    let files = match a.from.is_empty() {
        true => nmt::average::newest_snapshots(&a.model, a.last.map(|n| n as usize))?,
        false => a.from,
    };
    nmt::average::average(&a.model, &files)?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "averaged {} weights files ({}) into {}",
        files.len(),
        names.join(", "),
        a.model.join(checkpoint::AVERAGED).display()
    );
    Ok(())
}
