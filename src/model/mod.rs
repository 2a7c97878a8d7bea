//! The network: encoder, pluggable attention, decoder, and the model that ties them.
pub mod attention;
pub mod decoder;
pub mod encoder;
pub mod seq2seq;

pub use seq2seq::{EncodedSource, Seq2Seq};
