//! `nmt bench`: the throughput benchmark, measuring exactly what the reference peer
//! `../shared/bench/torch_ref.py` measures, on the same files and with the same semantics (fp32):
//! the same model (Bahdanau scorer and decoder, bridge, bidirectional encoder with `--hidden` per
//! direction, no dropout), the same word-level vocabulary, the same random training batches (drawn with
//! libtorch's generator seeded 0, as the reference draws them), Adam lr 1e-3 with clipping at 1.0,
//! 3 warm-up steps then `--steps` timed ones, and greedy decoding of exactly `--max-len` steps over
//! `test_2016_flickr` at batch 1 (first 200 sentences) and batch 128 (all). The decoding runs through
//! the engine's id-level core ([`Prepared`]), the path that `nmt translate` takes.

pub mod flops;
pub mod kernels;
mod vocab;

use crate::config::{AttentionKind, DecoderKind, ModelConfig};
use crate::data::batch::{collate, Example};
use crate::data::tokenizer::UNK;
use crate::engine::Prepared;
use crate::error::{Error, Result};
use crate::model::Seq2Seq;
use crate::optim::Adam;
use crate::train::train_step;
use flops::FlopModel;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};
use vocab::{read_tokenized, Vocab};

/// Untimed training steps before the timed ones.
const WARMUP: usize = 3;
/// The reference's optimiser settings.
const LR: f64 = 1e-3;
const CLIP: f64 = 1.0;
/// Decoding runs: (batch size, number of test sentences; `usize::MAX` = all).
const DECODE_RUNS: [(usize, usize); 2] = [(1, 200), (128, usize::MAX)];

/// What to benchmark (the `nmt bench` flags).
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Folder with `train.SRC`, `train.TGT` and `test_2016_flickr.SRC`.
    pub data: PathBuf,
    pub src: String,
    pub tgt: String,
    /// Timed training steps (after the warm-up ones).
    pub steps: usize,
    pub emb: usize,
    pub hidden: usize,
    /// Training batch size.
    pub batch: usize,
    /// Decoding steps per batch (no early exit at EOS).
    pub max_len: usize,
    /// Print only one JSON line on stdout (logs go to stderr).
    pub json: bool,
}

/// The one JSON line of `--json` (the reference prints the first three under the same names).
#[derive(Serialize, Debug)]
struct Report {
    train_tokens_per_s: f64,
    greedy_b1_sentences_per_s: f64,
    greedy_b128_sentences_per_s: f64,
    /// Peak resident memory of the process in MiB (`VmHWM`); null where `/proc` is unavailable.
    peak_rss_mb: Option<f64>,
    /// Model FLOP/s during training over the FLOP/s of a large sgemm (see [`FlopModel::train_flops`]).
    mm_bound_fraction: f64,
}

/// Runs the benchmark with libtorch already set to `threads` threads; prints the table or the JSON line.
pub fn run(a: &BenchOptions, threads: usize, device: Device) -> Result<()> {
    if a.steps == 0 || a.batch == 0 || a.max_len == 0 {
        return Err(Error::Usage("bench: --steps, --batch and --max-len must be > 0".into()));
    }
    let log = |msg: String| -> Result<()> {
        if a.json {
            eprintln!("{msg}");
            Ok(())
        } else {
            print(&msg)
        }
    };
    let data = Data::load(a)?;
    let cfg = ModelConfig {
        emb_size: a.emb,
        hidden_size: a.hidden,
        encoder_hidden_size: a.hidden,
        encoder_layers: 1,
        bidirectional: true,
        dropout: 0.0,
        attention: AttentionKind::Bahdanau,
        attention_size: a.hidden,
        heads: 1,
        decoder: DecoderKind::Bahdanau,
        input_feeding: false,
        bridge: true,
        tied_embeddings: false,
    };
    cfg.validate()?;
    // The reference draws every batch from a generator seeded 0 before anything else uses it, so
    // drawing all batches at once from libtorch's generator seeded 0 yields the same pairs.
    tch::manual_seed(0);
    let draws =
        Tensor::randint(data.pairs.len() as i64, [((WARMUP + a.steps) * a.batch) as i64], (Kind::Int64, Device::Cpu));
    let draws = Vec::<i64>::try_from(&draws)?;
    tch::manual_seed(0);
    let vs = nn::VarStore::new(device);
    let model = Seq2Seq::new(&vs.root(), &cfg, data.src_vocab as i64, data.tgt_vocab as i64);
    let params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
    log(format!(
        "vocab src={} tgt={} params={:.2}M threads={threads} device={device:?} mkl_by_cpu_features={}",
        data.src_vocab,
        data.tgt_vocab,
        params as f64 / 1e6,
        crate::mkl_dispatch::active()
    ))?;
    let fm = FlopModel {
        emb: a.emb as f64,
        enc: a.hidden as f64,
        hid: a.hidden as f64,
        att: a.hidden as f64,
        vocab: data.tgt_vocab as f64,
    };
    let trained = train(&model, &vs, &data.pairs, &draws, a.batch, fm, device)?;
    // Decode weights laid out once, as `Engine::load` does: the benchmark times the path users run.
    let prepared = Prepared::new(vs, model);
    log(format!(
        "train: {:.0} target tokens/s ({:.0} per CPU-second; {} steps, batch {}, loss {:.3}; peak RSS {})",
        trained.tokens_per_s,
        trained.tokens_per_cpu_s,
        a.steps,
        a.batch,
        trained.loss,
        rss_text()
    ))?;
    let mut rates = [0.0; DECODE_RUNS.len()];
    for (rate, &(batch, n)) in rates.iter_mut().zip(&DECODE_RUNS) {
        let (wall, cpu) = greedy_rate(&prepared, &data.test[..n.min(data.test.len())], batch, a.max_len)?;
        *rate = wall;
        log(format!("greedy batch={batch}: {wall:.1} sentences/s ({cpu:.1} per CPU-second; peak RSS {})", rss_text()))?;
    }
    let gemm = flops::sgemm_flops_per_s(device);
    let model_flops = trained.tokens_per_s * trained.flops_per_token;
    log(format!(
        "model: {:.1} MFLOP per target token (fwd+bwd), {:.2} GFLOP/s in training; sgemm 2048³: {:.2} GFLOP/s",
        trained.flops_per_token / 1e6,
        model_flops / 1e9,
        gemm / 1e9
    ))?;
    let report = Report {
        train_tokens_per_s: trained.tokens_per_s,
        greedy_b1_sentences_per_s: rates[0],
        greedy_b128_sentences_per_s: rates[1],
        peak_rss_mb: peak_rss_mb(),
        mm_bound_fraction: model_flops / gemm,
    };
    if a.json {
        print(&serde_json::to_string(&report).map_err(|e| Error::Serialize { what: "the report", source: e.into() })?)
    } else {
        print(&table(&report))
    }
}

/// Prints `text` and a newline to stdout; a closed stdout is an error (for the caller to end quietly on), not
/// a panic.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| Error::io("<stdout>", e))
}

/// The benchmark data as ids: training pairs and the test sources, in file order.
struct Data {
    pairs: Vec<Example>,
    test: Vec<Vec<i64>>,
    src_vocab: usize,
    tgt_vocab: usize,
}

impl Data {
    fn load(a: &BenchOptions) -> Result<Data> {
        let file = |name: String| a.data.join(name);
        let (src_path, tgt_path) = (file(format!("train.{}", a.src)), file(format!("train.{}", a.tgt)));
        let src = read_tokenized(&src_path)?;
        let tgt = read_tokenized(&tgt_path)?;
        if src.len() != tgt.len() {
            let msg = format!("{} lines, but {} has {}", src.len(), tgt_path.display(), tgt.len());
            return Err(Error::data(&src_path, 0, msg));
        }
        if src.is_empty() {
            return Err(Error::data(&src_path, 0, "no training sentences"));
        }
        let test_path = file(format!("test_2016_flickr.{}", a.src));
        let test_lines = read_tokenized(&test_path)?;
        if test_lines.is_empty() {
            return Err(Error::data(&test_path, 0, "no test sentences"));
        }
        let (sv, tv) = (Vocab::build(&src), Vocab::build(&tgt));
        // As in the reference: sources without EOS, an empty source becomes one UNK (the encoder needs a
        // token); targets get BOS and EOS from `collate`.
        let source = |line: &[String]| Some(sv.ids(line)).filter(|x| !x.is_empty()).unwrap_or_else(|| vec![UNK]);
        Ok(Data {
            pairs: src.iter().zip(&tgt).map(|(s, t)| Example { src: source(s), tgt: tv.ids(t) }).collect(),
            test: test_lines.iter().map(|l| source(l)).collect(),
            src_vocab: sv.size(),
            tgt_vocab: tv.size(),
        })
    }
}

/// What the timed training steps measured.
struct Trained {
    tokens_per_s: f64,
    tokens_per_cpu_s: f64,
    /// Model FLOPs (forward + backward) per target token, averaged over the timed batches.
    flops_per_token: f64,
    /// Loss of the last step.
    loss: f64,
}

/// Trains on the batches `draws` (pair indices, `batch` per step): `WARMUP` untimed steps, then the rest timed.
fn train(
    model: &Seq2Seq,
    vs: &nn::VarStore,
    pairs: &[Example],
    draws: &[i64],
    batch: usize,
    fm: FlopModel,
    device: Device,
) -> Result<Trained> {
    let mut adam = Adam::new(vs, 0.9, 0.999, 1e-8, 0.0);
    let (mut tokens, mut flops, mut loss) = (0i64, 0.0, f64::NAN);
    let (mut start, mut cpu) = (Instant::now(), cpu_seconds());
    for (step, idx) in draws.chunks(batch).enumerate() {
        if step == WARMUP {
            sync(device);
            (start, cpu) = (Instant::now(), cpu_seconds());
        }
        let indices: Vec<usize> = idx.iter().map(|&i| i as usize).collect();
        let b = collate(pairs, &indices, device);
        loss = train_step(model, &mut adam, &b, 0.0, CLIP, LR)?;
        if step >= WARMUP {
            tokens += b.ntokens;
            flops += indices
                .iter()
                .map(|&i| fm.train_flops(pairs[i].src.len() as f64, pairs[i].tgt.len() as f64 + 1.0))
                .sum::<f64>();
        }
    }
    sync(device);
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    Ok(Trained {
        tokens_per_s: tokens as f64 / secs,
        tokens_per_cpu_s: tokens as f64 / (cpu_seconds() - cpu).max(1e-9),
        flops_per_token: flops / tokens.max(1) as f64,
        loss,
    })
}

/// Greedy-decodes `sources` in file order, `batch` at a time, exactly `steps` steps each → sentences
/// per second and per CPU-second.
fn greedy_rate(prepared: &Prepared, sources: &[Vec<i64>], batch: usize, steps: usize) -> Result<(f64, f64)> {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    for chunk in sources.chunks(batch) {
        let rows: Vec<&[i64]> = chunk.iter().map(Vec::as_slice).collect();
        prepared.greedy_steps(&rows, steps)?;
    }
    sync(prepared.device());
    let n = sources.len() as f64;
    Ok((n / start.elapsed().as_secs_f64().max(1e-9), n / (cpu_seconds() - cpu).max(1e-9)))
}

/// CPU seconds this process has used so far (user + system, all threads). Next to the wall-clock
/// rates the logs show rates per CPU-second, which a busy machine disturbs much less.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given, which is a valid, zeroed `rusage`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Waits for queued device work, so wall-clock times cover it (CPU work is synchronous).
fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// The process's peak resident set size in MiB, from `VmHWM` in `/proc/self/status`.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim();
    kb.parse::<f64>().ok().map(|kb| kb / 1024.0)
}

/// The peak RSS so far, for the logs.
fn rss_text() -> String {
    peak_rss_mb().map_or_else(|| "n/a".to_string(), |m| format!("{m:.0} MiB"))
}

/// The report as a table, after an empty line.
fn table(r: &Report) -> String {
    let rss = peak_rss_mb().map_or_else(|| "n/a".to_string(), |m| format!("{m:.0}"));
    [
        String::new(),
        format!("{:34} {:>12}", "figure", "value"),
        format!("{:34} {:>12.1}", "training target tokens/s", r.train_tokens_per_s),
        format!("{:34} {:>12.1}", "greedy batch 1 sentences/s", r.greedy_b1_sentences_per_s),
        format!("{:34} {:>12.1}", "greedy batch 128 sentences/s", r.greedy_b128_sentences_per_s),
        format!("{:34} {:>12}", "peak RSS (MiB)", rss),
        format!("{:34} {:>12.3}", "matmul-bound fraction (training)", r.mm_bound_fraction),
    ]
    .join("\n")
}
