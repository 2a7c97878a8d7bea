//! Text → ids: the parallel corpus reader, the tokenizers, data preparation for training, batching and
//! padding, the corpus generators (toy, planted) with their PRNG, and the writer every generator writes through.
pub mod batch;
pub mod bpe_dropout;
pub mod corpus;
pub mod generated;
pub mod planted;
pub mod prepare;
mod rng;
pub mod tokenizer;
pub mod toy;
