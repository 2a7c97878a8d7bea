//! The command line (clap derive). The `///` comments are the help text; the subcommands' modules beside
//! this one do the work through the library. The library's enums carry no clap derives: the values a
//! flag takes are this module's own enums, mapped onto the library's.

use clap::{Args, Parser, Subcommand, ValueEnum};
use nmt::checkpoint::Which;
use nmt::engine::Precision;
use std::path::PathBuf;

/// Attention-based neural machine translation: train a translation pair, translate with it, and see
/// what the attention did.
#[derive(Parser, Debug)]
#[command(name = "nmt", version, about, propagate_version = true)]
pub struct Cli {
    /// libtorch intra-op threads (default: the machine's cores).
    #[arg(long, global = true, value_parser = at_least_one)]
    pub threads: Option<u64>,
    /// Where to compute: `auto` uses CUDA when libtorch sees a GPU.
    #[arg(long, global = true, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    #[command(subcommand)]
    pub command: Command,
}

/// `--device` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

/// A count that must be ≥ 1 (`--threads`, `--last`); clap puts the flag's name before the message.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be ≥ 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number ≥ 1".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a TOML config into a model directory.
    Train(TrainArgs),
    /// Translate lines (stdin → stdout by default), optionally saving attention weights and heatmaps.
    Translate(TranslateArgs),
    /// Translate a source file and print BLEU and chrF against a reference file.
    Eval(EvalArgs),
    /// BLEU and chrF of a hypothesis file against a reference file (sacreBLEU-compatible).
    Score(ScoreArgs),
    /// Alignment error rate (AER, sure links only) of Pharaoh alignments against gold ones.
    Aer(AerArgs),
    /// Draw attention heatmaps: one sentence through one or several models, or from saved JSON.
    Heatmap(HeatmapArgs),
    /// Show a model directory: config, parameter count, vocabularies, training state.
    Info(InfoArgs),
    /// Average the weight snapshots of a model directory into `averaged.safetensors`
    /// (use it with `--checkpoint averaged`; train with `train.keep_snapshots` to keep snapshots).
    Average(AverageArgs),
    /// Throughput benchmark, the same measurement as ../shared/bench/torch_ref.py.
    Bench(BenchArgs),
    /// The matmul FLOPs of decoding a translated file with a model, and this machine's sgemm FLOP/s on
    /// the --threads given, as one JSON line (scripts/bench-translate.sh's fraction of the sgemm bound).
    DecodeFlops(DecodeFlopsArgs),
    /// Serve models over HTTP: a JSON translation API with request batching, and a web page.
    Serve(ServeArgs),
    /// Corpus tools.
    #[command(subcommand)]
    Corpus(CorpusCommand),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// TOML config file (every field has a default; relative paths resolve against its directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Model directory to create (or to continue with --resume).
    #[arg(long)]
    pub out: PathBuf,
    /// Override a config field, e.g. `--set model.attention=luong-general` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue from the directory's `last` checkpoint exactly where it stopped
    /// (only `train.*` fields may be changed with --set).
    #[arg(long)]
    pub resume: bool,
    /// Log the training loss every N steps.
    #[arg(long, default_value_t = 50)]
    pub log_every: usize,
}

/// Decoding flags shared by translate, eval and heatmap. A flag left out is left to the model's
/// decode.toml (search, checkpoint, length penalty) and then the engine's defaults (shown in the help).
#[derive(Args, Debug, Clone)]
pub struct DecodeArgs {
    /// Beam size (1 = greedy search) [default: the model's decode.toml `default`, else 1].
    #[arg(long, allow_negative_numbers = true)]
    pub beam: Option<i64>,
    /// GNMT length-penalty exponent α for beam search (0 = off) [default: the model's decode.toml
    /// for the search, else 1.0].
    #[arg(long, allow_negative_numbers = true)]
    pub length_penalty: Option<f64>,
    /// Sentences per batch [default: 64].
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Longest translation in tokens (each sentence also stops at 2 × its source length + 10)
    /// [default: 300].
    #[arg(long, allow_negative_numbers = true)]
    pub max_len: Option<i64>,
    /// Which weights to load [default: the model's decode.toml for the search, else best].
    #[arg(long, value_enum)]
    pub checkpoint: Option<CheckpointArg>,
    /// Number format of the decoder: `int8` runs its large matrices in int8 where that is faster
    /// (batches of at most 4 rows — greedy at --batch-size ≤ 4; CPU only), fp32 elsewhere.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

/// `--precision` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit floats, as trained.
    F32,
    /// int8 weights for the decoder's large matrices where that is faster (small batches).
    Int8,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Int8 => Precision::Int8,
        }
    }
}

/// `--checkpoint` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckpointArg {
    Best,
    Last,
    /// The mean of the newest weight snapshots, written by `nmt average`.
    Averaged,
}

impl From<CheckpointArg> for Which {
    fn from(c: CheckpointArg) -> Which {
        match c {
            CheckpointArg::Best => Which::Best,
            CheckpointArg::Last => Which::Last,
            CheckpointArg::Averaged => Which::Averaged,
        }
    }
}

#[derive(Args, Debug)]
pub struct TranslateArgs {
    /// Model directory, or an ensemble `DIR+DIR+…` of directories sharing both tokenizers (each step
    /// averages their log-probabilities; the first one's decode.toml applies).
    #[arg(long, value_name = "DIR[+DIR…]")]
    pub model: String,
    /// Input file (default: stdin); one sentence per line.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output file (default: stdout); one line per input line, in order.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Print the N best translations per line, tab-separated with their scores (needs --beam ≥ N)
    /// [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    pub n_best: Option<i64>,
    /// Write one JSON object per input line with the source/target tokens and attention weights.
    #[arg(long)]
    pub attention_json: Option<PathBuf>,
    /// Write one heatmap PNG per sentence and an index.html gallery into this directory.
    #[arg(long)]
    pub heatmaps: Option<PathBuf>,
    /// Write the word alignments read off the attention, one Pharaoh line per input line: `i-j` pairs of
    /// 0-based source and translation words (whitespace-separated; EOS excluded).
    #[arg(long)]
    pub alignments: Option<PathBuf>,
    /// How alignments are read off the attention merged to words: `argmax` (each translation word to the
    /// source word it attends to most), `union` (also each source word to the translation word that
    /// attends to it most), `grow-diag` (Koehn et al.'s symmetrization of those two one-way links), or
    /// a threshold T in (0, 1] (every pair with weight ≥ T) [default: grow-diag, chosen on the toy dev
    /// set].
    #[arg(long)]
    pub align_rule: Option<String>,
    /// Translate each line as soon as it is read and flush its translation, so another program can
    /// keep `nmt` open as a co-process and send a line at a time (lines already waiting are
    /// translated together, up to a batch). Writes to stdout only: not with --output,
    /// --attention-json or --heatmaps. With --input, the file (e.g. a named pipe) is read the same
    /// way. A terminal is always read like this when nothing is written to files.
    #[arg(long, conflicts_with_all = ["output", "attention_json", "heatmaps", "alignments"])]
    pub stream: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model directory, or an ensemble `DIR+DIR+…` (see `nmt translate --help`).
    #[arg(long, value_name = "DIR[+DIR…]")]
    pub model: String,
    /// Source sentences (default: the model config's `data.test` corpus, with --ref).
    #[arg(long)]
    pub src: Option<PathBuf>,
    /// Reference translations, aligned with --src.
    #[arg(long = "ref")]
    pub reference: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Also write the translations to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Also print the scores of lowercased text (after the cased ones, each line saying which).
    #[arg(long)]
    pub lowercase: bool,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Hypotheses, one per line.
    #[arg(long)]
    pub hyp: PathBuf,
    /// References, aligned with --hyp.
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Lowercase both sides before scoring (sacreBLEU -lc).
    #[arg(long)]
    pub lowercase: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AerArgs {
    /// Hypothesis alignments, one Pharaoh line (`i-j` pairs) per sentence, e.g. from
    /// `nmt translate --alignments`.
    #[arg(long)]
    pub hyp: PathBuf,
    /// Gold (sure) alignments, line by line with --hyp (e.g. corpora/toy-en-fr/test.align).
    #[arg(long)]
    pub gold: PathBuf,
    /// Print one JSON object (aer, precision, recall, link counts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageFormat {
    Png,
    Svg,
}

#[derive(Args, Debug)]
pub struct HeatmapArgs {
    /// Model directory, or an ensemble `DIR+DIR+…` (see `nmt translate --help`); repeat to draw the same
    /// sentence through several models side by side, one panel per --model.
    #[arg(long, value_name = "DIR[+DIR…]")]
    pub model: Vec<String>,
    /// The sentence to translate and draw (with --model).
    #[arg(long)]
    pub text: Option<String>,
    /// Output image (with --model).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Draw the records saved by `nmt translate --attention-json` instead (no model needed).
    #[arg(long, conflicts_with_all = ["model", "text", "out"])]
    pub from_json: Option<PathBuf>,
    /// Output directory for --from-json: one image per line, numbered in input order (`0001.png`, ...), and
    /// index.html. A gallery drawn there before (index.html and images named by a number of four or more
    /// digits) is removed first; other files stay.
    #[arg(long, requires = "from_json", conflicts_with_all = ["model", "text", "out"])]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Merge subword pieces into words (sum over source pieces, mean over target pieces).
    #[arg(long)]
    pub words: bool,
    /// Frame the cells of the word alignment read off the attention (the `alignment` of each record;
    /// see `nmt translate --alignments`).
    #[arg(long)]
    pub alignments: bool,
    /// Draw one head of a multihead model instead of the mean over heads.
    #[arg(long)]
    pub head: Option<usize>,
    /// Image format (default: from the file extension, else png).
    #[arg(long, value_enum)]
    pub format: Option<ImageFormat>,
    /// A TTF/OTF font for scripts DejaVu Sans lacks (e.g. CJK).
    #[arg(long)]
    pub font: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Print the facts as one JSON object: dir, config, parameters, vocab, checkpoints, snapshots, training.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AverageArgs {
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Average only the newest N snapshots (default: all that training kept).
    #[arg(long, value_parser = at_least_one, conflicts_with = "from")]
    pub last: Option<u64>,
    /// Average these weights files of the model instead of its snapshots (e.g. its best.safetensors and
    /// last.safetensors; repeatable).
    #[arg(long)]
    pub from: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Folder with train.SRC/TGT and test_2016_flickr.SRC (e.g. ../shared/corpora/multi30k).
    #[arg(long, required_unless_present = "kernels")]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "de")]
    pub src: String,
    #[arg(long, default_value = "en")]
    pub tgt: String,
    /// Timed training steps (after 3 warm-up steps).
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    #[arg(long, default_value_t = 256)]
    pub emb: usize,
    #[arg(long, visible_alias = "hid", default_value_t = 512)]
    pub hidden: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Decoding steps per batch (no early exit at EOS).
    #[arg(long, default_value_t = 50)]
    pub max_len: usize,
    /// Print only one JSON line on stdout (logs go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Instead: the int8 microbenchmark — fp32 matmul against the int8 kernel at the shapes of a
    /// decoding step, batch 1 to 64 (the Multi30k recipe's shapes, or --model's).
    #[arg(long, conflicts_with_all = ["data", "json"])]
    pub kernels: bool,
    /// With --kernels: take the shapes from this model directory.
    #[arg(long, requires = "kernels")]
    pub model: Option<PathBuf>,
    /// With --kernels: timed repetitions per matrix and batch (the median is shown).
    #[arg(long, default_value_t = 200, requires = "kernels")]
    pub reps: usize,
}

#[derive(Args, Debug)]
pub struct DecodeFlopsArgs {
    /// Model directory (its config.toml and tokenizers).
    #[arg(long)]
    pub model: PathBuf,
    /// The source text, one sentence a line.
    #[arg(long)]
    pub source: PathBuf,
    /// Its translation, one line per source line (the 1-best, as `nmt translate` prints it).
    #[arg(long)]
    pub translation: PathBuf,
    /// Decoder rows per step: the beam size (1 for greedy).
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A model to serve, `DIR` or `NAME=DIR` (the name defaults to the directory's name), or an ensemble
    /// `[NAME=]DIR+DIR+…` (the name defaults to the directories' names joined by '+'); repeat to serve
    /// several side by side. Models are numbered 100, 101, ... in this order (the id of the OpenNMT-py
    /// route).
    #[arg(long = "model", value_name = "[NAME=]DIR[+DIR…]", required = true)]
    pub models: Vec<String>,
    /// The address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free port; the first line on stderr tells which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Most sentences a model decodes in one batch (gathered from all waiting requests).
    #[arg(long, value_parser = at_least_one, default_value_t = 64)]
    pub max_batch: u64,
    /// Longest a first waiting sentence waits for others to join its batch, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pub max_wait_ms: u64,
    /// Most sentences in one request.
    #[arg(long, value_parser = at_least_one, default_value_t = 64)]
    pub max_sentences: u64,
    /// Most characters in one sentence.
    #[arg(long, value_parser = at_least_one, default_value_t = 2000)]
    pub max_chars: u64,
    /// Largest beam (and n-best) a request may ask for.
    #[arg(long, value_parser = at_least_one, default_value_t = 10)]
    pub max_beam: u64,
    /// Longest translation a request may ask for, in tokens; also the limit of requests that do not say.
    #[arg(long, value_parser = at_least_one, default_value_t = 300)]
    pub max_len: u64,
    /// Largest request body: bytes, or with a unit (KiB, MiB, KB, MB).
    #[arg(long, value_parser = byte_size, default_value = "1MiB")]
    pub max_body: u64,
    /// Most sentences waiting for a model; a request that would exceed it gets 503.
    #[arg(long, value_parser = at_least_one, default_value_t = 1024)]
    pub queue: u64,
    /// Longest a request may wait for its translations, in seconds (then 504).
    #[arg(long, value_parser = at_least_one, default_value_t = 30)]
    pub timeout_s: u64,
    /// Allow browser pages from this origin (e.g. `http://localhost:3000`, or `*`) to call the API.
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// Which weights of every model to load [default: each model's decode.toml, else best].
    #[arg(long, value_enum)]
    pub checkpoint: Option<CheckpointArg>,
    /// The number format every model decodes in.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

/// A size in bytes: a whole number, optionally with a unit (`B`, `KB`, `MB`, `KiB`, `MiB`; any case).
fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        _ => return Err(format!("unknown unit {unit:?}: expected B, KB, MB, KiB or MiB")),
    };
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)) {
        Some(0) => Err("must be ≥ 1 byte".into()),
        Some(n) => Ok(n),
        None => Err("must be a whole number of bytes, optionally with a unit (e.g. 1MiB)".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum CorpusCommand {
    /// Regenerate the embedded English→French toy corpus.
    Toy {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Generator seed (the committed corpus uses 1).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Overwrite corpus files that differ from the ones generated (rewriting identical ones needs no flag).
        #[arg(long)]
        force: bool,
    },
    /// Write the planted-attention corpus and a config.toml that trains on it: sources of 5–15 tokens
    /// from 20 letters, each target one word translating the source token at --position alone.
    Planted {
        /// Output directory (train/dev/test.{src,tgt} and config.toml).
        #[arg(long)]
        out: PathBuf,
        /// The source position whose token decides the target, 0-based (the first token is 0); below 5,
        /// the shortest sentence's length.
        #[arg(long, default_value_t = nmt::data::planted::DEFAULT_POSITION)]
        position: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Overwrite corpus files that differ from the ones generated (rewriting identical ones needs no flag).
        #[arg(long)]
        force: bool,
    },
}

impl BenchArgs {
    /// The benchmark's options in the library's terms (clap makes `--data` present without `--kernels`).
    pub fn options(&self) -> nmt::bench::BenchOptions {
        nmt::bench::BenchOptions {
            data: self.data.clone().unwrap_or_default(),
            src: self.src.clone(),
            tgt: self.tgt.clone(),
            steps: self.steps,
            emb: self.emb,
            hidden: self.hidden,
            batch: self.batch,
            max_len: self.max_len,
            json: self.json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn byte_sizes_take_units_and_refuse_nonsense() {
        assert_eq!(byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(byte_size("512kib"), Ok(512 << 10));
        assert_eq!(byte_size("2 MB"), Ok(2_000_000));
        assert_eq!(byte_size("100"), Ok(100));
        for bad in ["", "MiB", "1.5MiB", "-1", "0", "1GiB", "99999999999999999999"] {
            assert!(byte_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}
