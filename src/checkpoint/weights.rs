//! Weights files: safetensors with PyTorch-style tensor names, a checksum of the tensor data in the
//! metadata (so a bit flip is reported instead of translating with garbage), every tensor's name and shape
//! checked against the model on load.

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// safetensors metadata key holding the sha256 of every weights file's tensors, so that a bit flip in the
/// data (which the format itself cannot notice) is reported instead of translating with garbage.
pub const CHECKSUM_KEY: &str = "nmt.sha256";

/// Saves every variable of `vs` plus `extra` named tensors and `metadata` to `path`, atomically.
pub fn save_weights(
    path: &Path,
    vs: &nn::VarStore,
    extra: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.extend(extra.iter().map(|(n, t)| (n.clone(), t.shallow_clone())));
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(n, t)| -> Result<(String, Vec<usize>, Vec<u8>)> {
            let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(t.flatten(0, -1))?;
            let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((n.clone(), shape, data))
        })
        .collect::<Result<_>>()?;
    let views = bytes
        .iter()
        .map(|(n, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::model(path, format!("tensor {n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut metadata = metadata.unwrap_or_default();
    metadata.insert(
        CHECKSUM_KEY.to_string(),
        content_hash(bytes.iter().map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))),
    );
    let out = safetensors::serialize(views, Some(metadata)).map_err(|e| Error::model(path, e.to_string()))?;
    write_atomic(path, &out)
}

/// sha256 over the names, shapes and data of `tensors` (in the order given), hex.
fn content_hash<'a>(tensors: impl Iterator<Item = (&'a str, &'a [usize], &'a [u8])>) -> String {
    let mut h = Sha256::new();
    for (name, shape, data) in tensors {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((shape.len() as u64).to_le_bytes());
        shape.iter().for_each(|&d| h.update((d as u64).to_le_bytes()));
        h.update(data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads the variables of `vs` from `path`. Tensors for which `extra(name)` is true may be present and
/// are returned (e.g. optimizer state); any other unknown, missing or mis-shaped tensor is an error.
pub fn load_weights(
    path: &Path,
    vs: &nn::VarStore,
    extra: impl Fn(&str) -> bool,
) -> Result<(HashMap<String, String>, HashMap<String, Tensor>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |m: String| Error::model(path, format!("not a valid weights file (truncated or corrupt?): {m}"));
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    // Files written before the checksum existed have none; any other file must match it.
    if let Some(expected) = meta.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) {
        let mut tensors = st.tensors();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        if content_hash(tensors.iter().map(|(n, v)| (n.as_str(), v.shape(), v.data()))) != *expected {
            return Err(corrupt("the tensor data does not match its checksum".into()));
        }
    }
    let mut file: HashMap<String, Tensor> = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::model(path, format!("tensor {name} is {:?}, expected F32", view.dtype())));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        file.insert(name, Tensor::from_slice(&values).view(shape.as_slice()));
    }
    let _guard = tch::no_grad_guard();
    let mut vars = vs.variables();
    // Every tensor is checked before any is copied, so a bad file leaves the model untouched.
    let mut names: Vec<String> = vars.keys().cloned().collect();
    names.sort();
    for name in &names {
        let t = file.get(name).ok_or_else(|| {
            Error::model(path, format!("tensor {name} is missing: the weights do not match the config"))
        })?;
        if t.size() != vars[name].size() {
            return Err(Error::model(
                path,
                format!("tensor {name} has shape {:?}, the config needs {:?}", t.size(), vars[name].size()),
            ));
        }
    }
    for name in &names {
        if let (Some(var), Some(t)) = (vars.get_mut(name), file.remove(name)) {
            var.copy_(&t.to_device(var.device()));
        }
    }
    if let Some(name) = file.keys().find(|n| !extra(n)) {
        return Err(Error::model(path, format!("unexpected tensor {name}: the weights do not match the config")));
    }
    Ok((meta.metadata().clone().unwrap_or_default(), file))
}

/// The metadata of weights file `path`, read from its header alone (a `last` file is ~100 MB).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let corrupt = |m: &str| Error::model(path, format!("not a valid weights file (truncated or corrupt?): {m}"));
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|_| corrupt("no header"))?;
    let len = u64::from_le_bytes(len);
    // The format caps the header at 100 MB; ours are a few kB.
    if len > 100_000_000 {
        return Err(corrupt("header too large"));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(|_| corrupt("truncated header"))?;
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__", default)]
        metadata: HashMap<String, String>,
    }
    let header: Header = serde_json::from_slice(&header).map_err(|e| corrupt(&e.to_string()))?;
    Ok(header.metadata)
}
