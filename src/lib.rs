//! nmt: attention-based neural machine translation on libtorch.
//!
//! Data flows one way: text → ids ([`data`]) → batches → [`model`] → ids ([`search`]) → text
//! ([`translate`]) and pictures. [`train`] runs the optimisation, [`checkpoint`] owns the model directory.
pub mod attention_json;
pub mod average;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod heatmap;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plot;
pub mod runtime;
pub mod search;
pub mod train;
pub mod translate;

pub use error::{Error, Result};
