//! Text → ids: the parallel corpus reader, the tokenizers, data preparation for training, batching and
//! padding, and the toy-corpus generator.
pub mod batch;
pub mod corpus;
pub mod prepare;
pub mod tokenizer;
pub mod toy;
