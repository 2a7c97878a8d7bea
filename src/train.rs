//! The training loop: Adam with clipping and label smoothing, validation (dev loss, perplexity, greedy
//! BLEU through the engine), best/last checkpoints, LR decay on plateau, early stopping, wall-clock and
//! step limits, Ctrl-C handling, progress bar, `metrics.jsonl` and `loss.png`, exact resumption.

use crate::checkpoint::{self, DirLock, TrainState, BEST, LAST, METRICS, STATE_KEY};
use crate::config::{Config, TrainConfig};
use crate::data::batch::{collate, plan_epoch, Batch, BatchSize, Example};
use crate::data::corpus::Pair;
use crate::data::prepare::{encode_pairs, read_filtered, train_tokenizers, DropoutEncoder};
use crate::data::tokenizer::{Spec, Tokenizer, PAD};
use crate::engine::{Decoding, Engine};
use crate::error::{Error, Result};
use crate::metrics;
use crate::metrics_log::{self, Record};
use crate::model::Seq2Seq;
use crate::optim::Adam;
use crate::plot;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tch::{nn, Device, Kind, Reduction, Tensor};

/// How a run is started.
pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    pub device: Device,
    /// Log every N steps to `metrics.jsonl` and the progress bar.
    pub log_every: usize,
    /// Set by SIGINT/SIGTERM: save `last` and stop.
    pub stop: Arc<AtomicBool>,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    MaxSteps,
    MaxEpochs,
    MaxMinutes,
    EarlyStopping,
    Interrupted,
}

/// The end of a run.
#[derive(Debug)]
pub struct Summary {
    pub reason: StopReason,
    pub state: TrainState,
}

/// Tokenized training data.
pub struct TrainData {
    pub train: Vec<Example>,
    /// The training pairs `train` encodes (BPE-dropout encodes them anew each epoch).
    pub train_pairs: Vec<Pair>,
    pub dev: Vec<Example>,
    pub dev_pairs: Vec<Pair>,
}

/// One optimisation step on `batch`; returns the (label-smoothed) mean token loss before the update.
pub fn train_step(
    model: &Seq2Seq,
    opt: &mut Adam,
    batch: &Batch,
    label_smoothing: f64,
    clip: f64,
    lr: f64,
) -> Result<f64> {
    let loss = batch_loss(model, batch, label_smoothing, true)?;
    opt.zero_grad();
    loss.backward();
    if clip > 0.0 {
        opt.clip_grad_norm(clip)?;
    }
    opt.update(lr);
    Ok(f64::try_from(&loss)?)
}

/// Mean token cross-entropy of a batch, over real target positions only: the recurrence skips the
/// padding, and the output layer is applied once, after the loop, to the non-padding positions.
/// → scalar tensor.
pub fn batch_loss(model: &Seq2Seq, batch: &Batch, label_smoothing: f64, train: bool) -> Result<Tensor> {
    let enc = model.encode(&batch.src, &batch.src_len, train);
    let real = batch.tgt_in.ne(PAD);
    let lengths = Vec::<i64>::try_from(real.sum_dim_intlist(1, false, Kind::Int64))?;
    let forced = model.decoder.teacher_forced(&batch.tgt_in, &lengths, enc.state, &enc.keys, train)?;
    // Row-major, as the features: tgt_out is real exactly where tgt_in is.
    let gold = batch.tgt_out.masked_select(&real);
    Ok(model.decoder.logits(&forced.features, train).cross_entropy_loss::<Tensor>(
        &gold,
        None,
        Reduction::Mean,
        -100,
        label_smoothing,
    ))
}

/// The learning rate of the next step: the plateau schedule's `base`, scaled by the linear warm-up
/// `min(1, step / warmup)`, and over the last `decay_fraction` of the budget annealed linearly down to
/// `min_lr` (`progress` is the share of the budget used, from [`budget_progress`]).
fn scheduled_lr(t: &TrainConfig, base: f64, step: usize, progress: f64) -> f64 {
    let warm = if t.warmup_steps == 0 { 1.0 } else { ((step + 1) as f64 / t.warmup_steps as f64).min(1.0) };
    let lr = base * warm;
    if t.decay_fraction == 0.0 {
        return lr;
    }
    let left = ((1.0 - progress) / t.decay_fraction).clamp(0.0, 1.0);
    t.min_lr.min(lr) + (lr - t.min_lr).max(0.0) * left
}

/// The share in [0, 1] of the run's nearest budget used so far: steps of `max_steps`, training minutes
/// of `max_minutes`, epochs (with the current one's batches of `epoch_batches`) of `max_epochs`; 0 when
/// none is set.
fn budget_progress(t: &TrainConfig, s: &TrainState, epoch_batches: usize) -> f64 {
    let mut p: f64 = 0.0;
    if t.max_steps > 0 {
        p = p.max(s.step as f64 / t.max_steps as f64);
    }
    if t.max_minutes > 0.0 {
        p = p.max(s.minutes / t.max_minutes);
    }
    if t.max_epochs > 0 {
        let epochs = s.epoch as f64 + s.batch_in_epoch as f64 / epoch_batches.max(1) as f64;
        p = p.max(epochs / t.max_epochs as f64);
    }
    p.min(1.0)
}

/// The step or minute limit the run has reached, if any: checked after every step, and before the first
/// one of a resumed run.
fn limit_reached(t: &TrainConfig, s: &TrainState) -> Option<StopReason> {
    if t.max_steps > 0 && s.step >= t.max_steps {
        Some(StopReason::MaxSteps)
    } else if t.max_minutes > 0.0 && s.minutes >= t.max_minutes {
        Some(StopReason::MaxMinutes)
    } else {
        None
    }
}

/// Trains a model into `opts.out` (fresh, or continuing `last` with `opts.resume`). `opts.out` must be new,
/// empty or a model directory ([`checkpoint::prepare_run_dir`]); when this run created it and fails before
/// saving any weights, it is removed again.
pub fn train(config: Config, opts: &RunOptions) -> Result<Summary> {
    let created = checkpoint::prepare_run_dir(&opts.out, opts.resume)?;
    let result = train_in(config, opts);
    if result.is_err() && created {
        checkpoint::remove_unsaved(&opts.out);
    }
    result
}

/// [`train`] in the prepared directory `opts.out`, holding its lock.
fn train_in(config: Config, opts: &RunOptions) -> Result<Summary> {
    let out = &opts.out;
    let _lock = DirLock::acquire(out)?;
    let mut config = config;
    if opts.resume && !out.join(LAST).exists() {
        return Err(Error::model(out, "nothing to resume: no last.safetensors (start without --resume)"));
    }
    if !opts.resume && out.join(LAST).exists() {
        return Err(Error::model(
            out,
            "already holds a training run (last.safetensors): continue it with --resume or choose another --out",
        ));
    }
    if !opts.resume && out.join(BEST).exists() {
        return Err(Error::model(
            out,
            "holds the best.safetensors of a run that stopped before it saved last.safetensors, so it cannot be \
             resumed; move it away or choose another --out",
        ));
    }
    // Both corpora are read (and checked) before the tokenizers are trained, so a bad dev file fails fast.
    let d = &config.data;
    let train_pairs = read_filtered(&d.train, &d.src_lang, &d.tgt_lang, "train")?;
    let dev_pairs = read_filtered(&d.dev, &d.src_lang, &d.tgt_lang, "dev")?;
    let (src_tok, tgt_tok, new_lr) = if opts.resume {
        let (saved, s, t) = checkpoint::read_dir_meta(out)?;
        // An explicit new train.lr (e.g. after a diverged run) restarts the schedule there; otherwise the
        // saved learning rate, decays included, goes on.
        (s, t, (saved.train.lr != config.train.lr).then_some(config.train.lr))
    } else {
        eprintln!(
            "train: {} pairs; training tokenizers ({:?}, vocab {})",
            train_pairs.len(),
            config.data.tokenizer,
            config.data.vocab_size
        );
        let spec = Spec {
            kind: config.data.tokenizer,
            vocab_size: config.data.vocab_size,
            min_frequency: config.data.min_frequency,
            lowercase: config.data.lowercase,
        };
        let (s, t) = train_tokenizers(&train_pairs, &spec, config.data.joint_vocab)?;
        checkpoint::write_dir_meta(out, &mut config, &s, &t)?;
        // Greedy with `best` (what validation chose it by) is the default; beam 5 with `best` and
        // length penalty 1.0 is there for `--beam N`. The Multi30k recipe rewrites it with its val choice.
        checkpoint::DecodeDefaults::default().write(out)?;
        (s, t, None)
    };
    let data = prepare(&config, &src_tok, &tgt_tok, &train_pairs, dev_pairs)?;
    let mut trainer = Trainer::new(config, src_tok, tgt_tok, data, opts)?;
    if let Some(lr) = new_lr {
        eprintln!("learning rate set to train.lr = {lr} (was {})", trainer.state.lr);
        trainer.state.lr = lr;
    }
    trainer.run()
}

fn prepare(
    config: &Config,
    src_tok: &Tokenizer,
    tgt_tok: &Tokenizer,
    pairs: &[Pair],
    dev_pairs: Vec<Pair>,
) -> Result<TrainData> {
    let (train, train_pairs, long) = encode_pairs(pairs, src_tok, tgt_tok, config.data.max_len)?;
    if long > 0 {
        eprintln!("train: skipped {long} pairs longer than data.max_len = {} tokens", config.data.max_len);
    }
    if train.is_empty() {
        return Err(Error::data(&config.data.train, 0, "no usable training pairs"));
    }
    let (dev, dev_pairs, _) = encode_pairs(&dev_pairs, src_tok, tgt_tok, config.data.max_len)?;
    eprintln!(
        "data: {} train and {} dev pairs; vocab src {} tgt {}",
        train.len(),
        dev.len(),
        src_tok.vocab_size(),
        tgt_tok.vocab_size()
    );
    Ok(TrainData { train, train_pairs, dev, dev_pairs })
}

struct Trainer<'a> {
    config: Config,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    data: TrainData,
    opts: &'a RunOptions,
    /// With `data.bpe_dropout` > 0: encodes the training pairs anew each epoch.
    dropout: Option<DropoutEncoder>,
    vs: nn::VarStore,
    model: Seq2Seq,
    adam: Adam,
    state: TrainState,
    records: Vec<Record>,
}

impl<'a> Trainer<'a> {
    fn new(
        config: Config,
        src_tok: Tokenizer,
        tgt_tok: Tokenizer,
        data: TrainData,
        opts: &'a RunOptions,
    ) -> Result<Self> {
        tch::manual_seed(config.train.seed as i64);
        let vs = nn::VarStore::new(opts.device);
        let model = Seq2Seq::new(&vs.root(), &config.model, src_tok.vocab_size() as i64, tgt_tok.vocab_size() as i64);
        let t = &config.train;
        let mut adam = Adam::new(&vs, t.adam_beta1, t.adam_beta2, t.adam_eps, t.weight_decay);
        let mut state = TrainState { lr: t.lr, ..Default::default() };
        let mut records = Vec::new();
        if opts.resume {
            let path = opts.out.join(LAST);
            let (meta, extra) = checkpoint::load_weights(&path, &vs, |n| n.starts_with("adam."))?;
            state = TrainState::from_metadata(&meta, &path)?;
            adam.load_state(|n| extra.get(n).map(|t| t.to_device(opts.device)), state_adam_step(&meta))
                .map_err(|n| Error::model(&path, format!("optimizer tensor {n} missing or mis-shaped")))?;
            records = metrics_log::read(&opts.out.join(METRICS), state.step)?;
            eprintln!("resuming at step {} (epoch {}, batch {})", state.step, state.epoch + 1, state.batch_in_epoch);
        }
        let p = config.data.bpe_dropout;
        let dropout = (p > 0.0).then(|| DropoutEncoder::new(&src_tok, &tgt_tok, p)).transpose()?;
        Ok(Trainer { config, src_tok, tgt_tok, data, opts, dropout, vs, model, adam, state, records })
    }

    fn run(mut self) -> Result<Summary> {
        let t = self.config.train.clone();
        let started = Instant::now();
        let minutes_before = self.state.minutes;
        let size =
            if t.batch_tokens > 0 { BatchSize::Tokens(t.batch_tokens) } else { BatchSize::Sentences(t.batch_size) };
        let (mut window_loss, mut window_tokens, mut window_steps) = (0.0, 0i64, 0usize);
        let mut window_start = Instant::now();
        let mut last_valid_step = self.state.step;
        let reason = 'outer: loop {
            if t.max_epochs > 0 && self.state.epoch >= t.max_epochs {
                break StopReason::MaxEpochs;
            }
            // A resumed run may already be at its step or minute limit: it must not take one more step.
            if let Some(reason) = limit_reached(&t, &self.state) {
                break reason;
            }
            self.encode_with_dropout()?;
            let plan = plan_epoch(
                &self.data.train,
                size,
                t.seed.wrapping_mul(1_000_003).wrapping_add(self.state.epoch as u64),
            );
            let bar = progress_bar(plan.len() as u64, self.state.epoch);
            bar.set_position(self.state.batch_in_epoch as u64);
            for indices in plan.iter().skip(self.state.batch_in_epoch) {
                if self.opts.stop.load(Ordering::SeqCst) {
                    bar.abandon();
                    break 'outer StopReason::Interrupted;
                }
                // Seeding per step makes dropout identical whether or not the run was resumed.
                tch::manual_seed(t.seed.wrapping_add(self.state.step as u64 * 7919) as i64);
                let batch = collate(&self.data.train, indices, self.opts.device);
                let progress = budget_progress(&t, &self.state, plan.len());
                let lr = scheduled_lr(&t, self.state.lr, self.state.step, progress);
                let loss = train_step(&self.model, &mut self.adam, &batch, t.label_smoothing, t.clip_norm, lr)?;
                if !loss.is_finite() {
                    bar.abandon();
                    return Err(self.diverged(format!("the loss became {loss}"), self.state.step + 1));
                }
                self.state.step += 1;
                self.state.batch_in_epoch += 1;
                window_loss += loss * batch.ntokens as f64;
                window_tokens += batch.ntokens;
                window_steps += 1;
                bar.inc(1);
                if window_steps >= self.opts.log_every.max(1) {
                    let secs = window_start.elapsed().as_secs_f64().max(1e-9);
                    let mean = window_loss / window_tokens.max(1) as f64;
                    let tps = window_tokens as f64 / secs;
                    let msg = format!(
                        "step {} loss {mean:.3} ppl {:.2} lr {lr:.2e} {tps:.0} tok/s",
                        self.state.step,
                        mean.exp()
                    );
                    if bar.is_hidden() {
                        // No terminal (a log file, CI): one line per log interval instead of the bar.
                        eprintln!(
                            "epoch {} batch {}/{} {msg}",
                            self.state.display_epoch(),
                            self.state.batch_in_epoch,
                            plan.len()
                        );
                    }
                    bar.set_message(msg);
                    self.records.push(Record::Train {
                        step: self.state.step,
                        epoch: self.state.display_epoch(),
                        loss: mean,
                        ppl: mean.exp(),
                        lr,
                        tokens_per_s: tps,
                    });
                    (window_loss, window_tokens, window_steps) = (0.0, 0, 0);
                    window_start = Instant::now();
                }
                self.state.minutes = minutes_before + started.elapsed().as_secs_f64() / 60.0;
                if t.valid_every > 0 && self.state.step.is_multiple_of(t.valid_every) {
                    last_valid_step = self.state.step;
                    if self.validate(&bar, true)? {
                        bar.finish_and_clear();
                        break 'outer StopReason::EarlyStopping;
                    }
                }
                if let Some(reason) = limit_reached(&t, &self.state) {
                    bar.finish_and_clear();
                    break 'outer reason;
                }
            }
            bar.finish_and_clear();
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
            if t.valid_every == 0 {
                last_valid_step = self.state.step;
                if self.validate(&bar, true)? {
                    break StopReason::EarlyStopping;
                }
            }
        };
        self.state.minutes = minutes_before + started.elapsed().as_secs_f64() / 60.0;
        if reason != StopReason::Interrupted && last_valid_step != self.state.step {
            self.validate(&indicatif::ProgressBar::hidden(), false)?;
        }
        self.state.finished = reason != StopReason::Interrupted;
        self.check_finite()?;
        self.save_last()?;
        Ok(Summary { reason, state: self.state })
    }

    /// Dev loss, perplexity and greedy BLEU; saves `best` on improvement, a snapshot when
    /// `train.keep_snapshots` asks for them, and `last` always. A `scheduled`
    /// validation also drives the LR schedule and early stopping; returns true when early stopping says stop.
    /// With BPE-dropout, encodes the training pairs anew for the current epoch, from a seed of the run's
    /// seed and the epoch alone, so that a resumed run sees the same ids. Pairs that dropout makes longer
    /// than `data.max_len` sit this epoch out.
    fn encode_with_dropout(&mut self) -> Result<()> {
        let Some(encoder) = &self.dropout else { return Ok(()) };
        let seed = self.config.train.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.state.epoch as u64;
        (self.data.train, _, _) = encoder.encode(&self.data.train_pairs, self.config.data.max_len, seed)?;
        Ok(())
    }

    fn validate(&mut self, bar: &indicatif::ProgressBar, scheduled: bool) -> Result<bool> {
        let t = self.config.train.clone();
        self.check_finite()?;
        let (dev_loss, dev_bleu, samples) = self.evaluate_dev()?;
        if !dev_loss.is_finite() {
            bar.abandon();
            return Err(self.diverged(format!("the dev loss became {dev_loss}"), self.state.step));
        }
        let improved = self.state.best_bleu.is_none_or(|b| dev_bleu > b);
        if improved {
            self.state.best_bleu = Some(dev_bleu);
            self.state.best_step = self.state.step;
            checkpoint::save_weights(&self.opts.out.join(BEST), &self.vs, &[], None)?;
        }
        if t.keep_snapshots > 0 {
            checkpoint::save_snapshot(&self.opts.out, &self.vs, self.state.step, t.keep_snapshots)?;
        }
        if scheduled {
            if self.state.schedule_bleu.is_none_or(|b| dev_bleu > b) {
                self.state.schedule_bleu = Some(dev_bleu);
                self.state.bad_validations = 0;
                self.state.plateau = 0;
            } else {
                self.state.bad_validations += 1;
                self.state.plateau += 1;
                if self.state.plateau >= t.lr_patience.max(1) && self.state.lr > t.min_lr {
                    self.state.lr = (self.state.lr * t.lr_decay).max(t.min_lr);
                    self.state.plateau = 0;
                }
            }
        }
        self.records.push(Record::Valid {
            step: self.state.step,
            epoch: self.state.display_epoch(),
            dev_loss,
            dev_ppl: dev_loss.exp(),
            dev_bleu,
            lr: self.state.lr,
            best: improved,
        });
        bar.suspend(|| {
            eprintln!(
                "valid step {} epoch {}: dev loss {dev_loss:.3} ppl {:.2} BLEU {dev_bleu:.2}{} plateau lr {:.2e}",
                self.state.step,
                self.state.display_epoch(),
                dev_loss.exp(),
                if improved { " (best)" } else { "" },
                self.state.lr
            );
            for (src, hyp) in samples {
                eprintln!("  {src}\n  → {hyp}");
            }
        });
        self.save_last()?;
        Ok(scheduled && t.patience > 0 && self.state.bad_validations >= t.patience)
    }

    /// → (dev token loss without smoothing, greedy BLEU, a few samples).
    fn evaluate_dev(&self) -> Result<(f64, f64, Vec<Sample>)> {
        let _guard = tch::no_grad_guard();
        let dev = &self.data.dev;
        let (mut total, mut tokens) = (0.0, 0i64);
        let order: Vec<usize> = (0..dev.len()).collect();
        for chunk in order.chunks(64) {
            let batch = collate(dev, chunk, self.opts.device);
            let loss = f64::try_from(batch_loss(&self.model, &batch, 0.0, false)?.to_kind(Kind::Double))?;
            total += loss * batch.ntokens as f64;
            tokens += batch.ntokens;
        }
        let n = match self.config.train.valid_bleu_sentences {
            0 => self.data.dev_pairs.len(),
            k => k.min(self.data.dev_pairs.len()),
        };
        let srcs: Vec<String> = self.data.dev_pairs[..n].iter().map(|p| p.src.clone()).collect();
        let refs: Vec<&str> = self.data.dev_pairs[..n].iter().map(|p| p.tgt.as_str()).collect();
        // The engine decodes a copy of the weights, as they are at this validation.
        let engine = Engine::copy_of(&self.config, &self.vs, &self.src_tok, &self.tgt_tok)?;
        let hyps: Vec<String> =
            engine.translate_with(&srcs, &Decoding::default())?.iter().map(|t| t.best_text().to_string()).collect();
        let bleu = if n == 0 { 0.0 } else { metrics::bleu(&hyps, &refs, false)?.score };
        let samples = srcs.into_iter().zip(hyps).take(self.config.train.valid_samples).collect();
        Ok((total / tokens.max(1) as f64, bleu, samples))
    }

    /// Fails when a weight is NaN or infinite, so that such weights are never saved over good ones.
    fn check_finite(&self) -> Result<()> {
        let _guard = tch::no_grad_guard();
        // A sum in f64 of f32 values cannot overflow, so it is finite exactly when every value is.
        let finite =
            self.vs.trainable_variables().iter().all(|v| f64::try_from(v.sum(Kind::Double)).is_ok_and(f64::is_finite));
        if finite {
            Ok(())
        } else {
            Err(self.diverged("the weights became NaN or infinite".into(), self.state.step))
        }
    }

    /// The error that stops a diverged run at `step`; nothing is saved after it.
    fn diverged(&self, what: String, step: usize) -> Error {
        Error::Training(format!(
            "{what} at step {step}; stopped without saving — the last good checkpoints in {} are intact \
             (continue with a lower learning rate: nmt train --out {} --resume --set train.lr=...)",
            self.opts.out.display(),
            self.opts.out.display()
        ))
    }

    fn save_last(&self) -> Result<()> {
        let mut meta = std::collections::HashMap::new();
        let json = serde_json::to_string(&self.state)
            .map_err(|e| Error::Serialize { what: "the training state", source: e.into() })?;
        meta.insert(STATE_KEY.to_string(), json);
        meta.insert("nmt.adam_step".to_string(), self.adam.step.to_string());
        checkpoint::save_weights(&self.opts.out.join(LAST), &self.vs, &self.adam.state_tensors(), Some(meta))?;
        metrics_log::write(&self.opts.out.join(METRICS), &self.records)?;
        plot::learning_curve(&self.records, &self.opts.out.join(checkpoint::LOSS_PLOT))
    }
}

/// A dev sentence and its translation, printed at validation.
type Sample = (String, String);

fn state_adam_step(meta: &std::collections::HashMap<String, String>) -> i64 {
    meta.get("nmt.adam_step").and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn progress_bar(len: u64, epoch: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "epoch {} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed_precise}}<{{eta_precise}}]",
        epoch + 1
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(decay_fraction: f64, max_steps: usize, max_minutes: f64, max_epochs: usize) -> TrainConfig {
        TrainConfig { decay_fraction, max_steps, max_minutes, max_epochs, min_lr: 1e-5, ..Default::default() }
    }

    #[test]
    fn the_budget_anneal_keeps_the_rate_then_falls_linearly_to_min_lr() {
        let t = config(0.25, 100, 0.0, 0);
        for (progress, want) in [(0.0, 1e-3), (0.75, 1e-3), (0.875, 1e-5 + (1e-3 - 1e-5) * 0.5), (1.0, 1e-5)] {
            let lr = scheduled_lr(&t, 1e-3, 50, progress);
            assert!((lr - want).abs() < 1e-12, "progress {progress}: lr {lr}, want {want}");
        }
        // A plateau-decayed base below min_lr is never raised to it.
        assert_eq!(scheduled_lr(&t, 5e-6, 50, 0.9), 5e-6);
        // Off: the base alone, whatever the progress.
        assert_eq!(scheduled_lr(&config(0.0, 100, 0.0, 0), 1e-3, 50, 0.99), 1e-3);
    }

    #[test]
    fn warm_up_and_anneal_multiply() {
        let t = TrainConfig { warmup_steps: 10, ..config(0.5, 100, 0.0, 0) };
        let lr = scheduled_lr(&t, 1e-3, 4, 0.75);
        let want = 1e-5 + (0.5e-3 - 1e-5) * 0.5;
        assert!((lr - want).abs() < 1e-12, "lr {lr}, want {want}");
    }

    #[test]
    fn progress_is_the_share_of_the_nearest_budget() {
        let s = TrainState { step: 30, epoch: 1, batch_in_epoch: 5, minutes: 9.0, ..Default::default() };
        assert_eq!(budget_progress(&config(0.2, 100, 0.0, 0), &s, 10), 0.3);
        assert_eq!(budget_progress(&config(0.2, 100, 10.0, 0), &s, 10), 0.9);
        assert_eq!(budget_progress(&config(0.2, 0, 0.0, 2), &s, 10), 0.75);
        assert_eq!(budget_progress(&config(0.2, 0, 5.0, 0), &s, 10), 1.0);
        assert_eq!(budget_progress(&config(0.0, 0, 0.0, 0), &s, 10), 0.0);
    }
}
