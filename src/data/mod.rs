//! Text → ids: the parallel corpus reader, the tokenizers, data preparation for training, batching and
//! padding, the toy-corpus generator and the writer every corpus generator writes through.
pub mod batch;
pub mod corpus;
pub mod generated;
pub mod prepare;
pub mod tokenizer;
pub mod toy;
