//! Throughput benchmark (placeholder while being written).
use crate::cli::BenchArgs;
use crate::error::{Error, Result};
use tch::Device;

pub fn run(_a: &BenchArgs, _threads: usize, _device: Device) -> Result<()> {
    Err(Error::Usage("bench: not built yet".into()))
}
