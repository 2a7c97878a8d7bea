//! The network: encoder, pluggable attention, decoder, and the model that ties them; int8 copies of
//! weight matrices and oneDNN products for decoding.
pub mod attention;
pub mod decoder;
pub mod encoder;
pub mod gru;
pub mod int8;
pub mod onednn;
pub mod seq2seq;

pub use seq2seq::{EncodedSource, Seq2Seq};
