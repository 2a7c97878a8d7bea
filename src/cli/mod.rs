//! The binary's faces on the library: one module per group of subcommands, each a thin layer that turns
//! flags into library calls (the engine for anything that translates) and results into output.

pub mod args;
mod flops;
mod kernels;
mod model_dir;
mod score;
mod serve;
mod show;
mod train;
mod translate;

use args::{Cli, Command, CorpusCommand, DecodeArgs, DeviceArg};
use nmt::data::corpus::read_text_lines;
use nmt::engine::{DecodeOptions, Decoding, Engine, LoadOptions, Precision};
use nmt::error::{Error, Result};
use nmt::fsutil::write_atomic_with;
use std::io::Write;
use std::path::Path;
use tch::Device;

/// Runs a parsed command line with libtorch set to `threads` threads.
pub fn run(cli: Cli, threads: usize) -> Result<()> {
    tch::set_num_threads(threads as i32);
    let device = match cli.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda if !tch::Cuda::is_available() => {
            return Err(Error::Usage("--device cuda: libtorch sees no CUDA device".into()))
        }
        DeviceArg::Cuda => Device::Cuda(0),
        DeviceArg::Auto => Device::cuda_if_available(),
    };
    match cli.command {
        Command::Train(a) => train::train(a, device),
        Command::Translate(a) => translate::translate(a, device),
        Command::Eval(a) => score::eval(a, device),
        Command::Score(a) => score::score(a),
        Command::Aer(a) => score::aer(a),
        Command::Heatmap(a) => show::heatmap(a, device),
        Command::Info(a) => model_dir::info(a),
        Command::Average(a) => model_dir::average(a),
        Command::Bench(a) if a.kernels => kernels::run(&a, threads),
        Command::Bench(a) => nmt::bench::run(&a.options(), threads, device),
        Command::DecodeFlops(a) => flops::decode_flops(a, device),
        Command::Serve(a) => serve::serve(a, threads, device),
        Command::Corpus(CorpusCommand::Toy { out, seed, force }) => {
            nmt::data::toy::write(&out, seed, force)?;
            eprintln!("wrote the toy corpus (seed {seed}) to {}", out.display());
            Ok(())
        }
        Command::Corpus(CorpusCommand::Planted { out, position, seed, force }) => {
            nmt::data::planted::write(&out, position, seed, force)?;
            eprintln!("wrote the planted corpus (position {position}, seed {seed}) to {}", out.display());
            Ok(())
        }
    }
}

/// The decoding flags as the engine's options; a negative count is refused here, naming its flag.
fn decode_options(d: &DecodeArgs, n_best: Option<i64>) -> Result<DecodeOptions> {
    let count = |flag: &str, v: Option<i64>| -> Result<Option<usize>> {
        v.map(|n| usize::try_from(n).map_err(|_| Error::Usage(format!("{flag} {n}: must be ≥ 1")))).transpose()
    };
    Ok(DecodeOptions {
        beam: count("--beam", d.beam)?,
        n_best: count("--n-best", n_best)?,
        length_penalty: d.length_penalty,
        batch_size: count("--batch-size", d.batch_size)?,
        max_len: count("--max-len", d.max_len)?,
        checkpoint: d.checkpoint.map(Into::into),
    })
}

/// How the command line spells a decoding option named by its field (`n_best` → `--n-best`).
fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// Loads the engine of `--model` `spec` (a directory or an ensemble `DIR+DIR+…`) with the checkpoint the
/// decoding flags name (or those of the first directory's decode.toml) and the precision they name, and
/// resolves the decoding flags (with `n_best`) against the model's defaults.
fn load_engine(spec: &str, d: &DecodeArgs, n_best: Option<i64>, device: Device) -> Result<(Engine, Decoding)> {
    let opts = decode_options(d, n_best)?;
    let precision = Precision::from(d.precision);
    if precision == Precision::Int8 && device != Device::Cpu {
        return Err(Error::Usage(format!(
            "--precision int8 runs on the CPU only (the device is {device:?}): pass --device cpu"
        )));
    }
    let dirs = nmt::engine::ensemble_members(spec, "--model")?;
    let engine = Engine::load_ensemble(&dirs, &LoadOptions { checkpoint: opts.checkpoint, device, precision })?;
    let decoding = engine.resolve(&opts, flag)?;
    Ok((engine, decoding))
}

/// Standard input read by the same reader as `--input` files, so both accept and refuse the same bytes
/// (and an error names the line).
fn read_stdin_lines() -> Result<Vec<String>> {
    read_text_lines(Path::new("/dev/stdin"))
}

/// Writes lines to `path` atomically, or to stdout: the one way the binary prints results, so that a closed
/// stdout is an `Error::Io` (which `main` recognises) and never a panic.
fn write_lines(path: Option<&Path>, lines: &[String]) -> Result<()> {
    match path {
        Some(p) => write_atomic_with(p, |w| lines.iter().try_for_each(|l| writeln!(w, "{l}"))),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            lines
                .iter()
                .try_for_each(|l| writeln!(out, "{l}"))
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("<stdout>", e))
        }
    }
}
