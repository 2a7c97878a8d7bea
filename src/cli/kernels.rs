//! `nmt bench --kernels`: the int8 microbenchmark at the shapes of a decoding step — the Multi30k
//! recipe's (its config is compiled in) or a model directory's — printed as a Markdown table.

use super::args::BenchArgs;
use super::write_lines;
use nmt::bench::kernels::{measure, step_matrices, table};
use nmt::config::Config;
use nmt::engine::ModelInfo;
use nmt::error::Result;
use std::path::Path;

/// The recipe's config, for its shapes.
const RECIPE: &str = include_str!("../../corpora/multi30k/config.toml");

pub fn run(a: &BenchArgs, threads: usize) -> Result<()> {
    let (cfg, vocab, source) = match &a.model {
        Some(dir) => {
            let info = ModelInfo::read(dir)?;
            (info.config.model, info.vocab.tgt, format!("model {}", dir.display()))
        }
        None => {
            let recipe = Config::from_toml_str(RECIPE, Path::new("corpora/multi30k/config.toml"))?;
            let v = recipe.data.vocab_size;
            (recipe.model, v, format!("the Multi30k recipe (V = data.vocab_size = {v})"))
        }
    };
    let rows = measure(&step_matrices(&cfg, vocab as i64), a.reps)?;
    let head = format!("shapes of {source}; {threads} thread(s); median of {} calls per cell", a.reps);
    write_lines(None, &[head, table(&rows)])
}
