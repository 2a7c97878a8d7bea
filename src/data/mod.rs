//! Text → ids: the parallel corpus reader, the tokenizers, batching, and the toy-corpus generator.
pub mod batch;
pub mod corpus;
pub mod tokenizer;
pub mod toy;
