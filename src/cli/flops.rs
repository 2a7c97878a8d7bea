//! `nmt decode-flops`: the matmul FLOPs of decoding a translated file (counted by
//! [`nmt::bench::flops::decode_flops`] from the model's config and the files' token counts) and the
//! FLOP/s of a large sgemm here, for scripts/bench-translate.sh.

use super::args::DecodeFlopsArgs;
use super::write_lines;
use nmt::bench::flops::{decode_flops as flops_of, sgemm_flops_per_s};
use nmt::checkpoint;
use nmt::data::corpus::read_text_lines;
use nmt::error::{Error, Result};
use tch::Device;

pub fn decode_flops(a: DecodeFlopsArgs, device: Device) -> Result<()> {
    if a.beam == 0 {
        return Err(Error::Usage("--beam 0: must be ≥ 1".into()));
    }
    let (config, src_tok, tgt_tok, _vs, _model) = checkpoint::build(&a.model, Device::Cpu)?;
    let sources = read_text_lines(&a.source)?;
    let translations = read_text_lines(&a.translation)?;
    if sources.len() != translations.len() {
        return Err(Error::Usage(format!(
            "--source {} has {} lines but --translation {} has {}",
            a.source.display(),
            sources.len(),
            a.translation.display(),
            translations.len()
        )));
    }
    let (mut flops, mut target_tokens) = (0.0, 0usize);
    for (src, tgt) in sources.iter().zip(&translations) {
        let s = src_tok.encode_source(src)?.0.len();
        if s == 0 {
            continue;
        }
        // The emitted tokens and the EOS that ended them.
        let t = tgt_tok.encode(tgt)?.len() + 1;
        target_tokens += t;
        flops += flops_of(&config.model, tgt_tok.vocab_size() as f64, s as f64, t as f64, a.beam as f64);
    }
    let json = serde_json::json!({
        "target_tokens": target_tokens,
        "decode_flops": flops,
        "sgemm_flops_per_s": sgemm_flops_per_s(device),
    });
    write_lines(None, &[json.to_string()])
}
