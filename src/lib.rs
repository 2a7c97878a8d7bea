//! nmt: attention-based neural machine translation on libtorch.
//!
//! Data flows one way: text → ids ([`data`]) → batches → [`model`] → ids ([`search`]) → text and
//! pictures ([`heatmap`]). The [`Engine`] is a loaded model ready to translate, the one entry every face
//! uses (the `nmt` binary's subcommands, validation inside [`train`], [`bench`](mod@bench), the server);
//! [`checkpoint`] owns the model directory.
//!
//! Load a model directory and translate a sentence:
//!
//! ```no_run
//! use nmt::{DecodeOptions, Engine, LoadOptions};
//!
//! # fn main() -> nmt::Result<()> {
//! let engine = Engine::load("runs/toy".as_ref(), &LoadOptions::default())?;
//! let beam5 = DecodeOptions { beam: Some(5), ..DecodeOptions::default() };
//! let out = engine.translate(&["the red car is not fast.".to_string()], &beam5)?;
//! println!("{}", out[0].best_text());
//! // Attention weights of the best hypothesis: one row per output token, one column per source token.
//! let weights = &out[0].outputs[0].hypothesis.weights;
//! assert_eq!(weights.len(), out[0].outputs[0].target.len());
//! # Ok(())
//! # }
//! ```
//!
//! A library user who does not want the command line's dependencies builds with
//! `nmt = { default-features = false }` (the `cli` feature holds clap and the binary).
pub mod align;
pub mod attention_json;
pub mod average;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod heatmap;
pub mod metrics;
pub mod metrics_log;
pub mod mkl_dispatch;
pub mod model;
pub mod optim;
pub mod plot;
mod render;
pub mod runtime;
pub mod search;
pub mod train;

pub use engine::{DecodeOptions, Engine, LoadOptions, ModelInfo, Translation};
pub use error::{Error, Result};
