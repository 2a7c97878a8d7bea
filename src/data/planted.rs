//! The planted-attention corpus (`nmt corpus planted`, issue 16): the answer is planted at one source
//! position, and attention has to find it. Each source sentence is 5–15 tokens drawn uniformly from a
//! vocabulary of 20 letters; its target is one word, the translation of the token at position K
//! (0-based) alone by a fixed table. The `config.toml` written beside the corpus trains a model without
//! the bridge, so attention is the decoder's only path from the source to the output: a model that has
//! learnt the corpus must attend to position K.

use super::generated::{parallel_files, write_corpus};
use super::rng::SplitMix64;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::Path;

/// Shortest source sentence, in tokens; the planted position must be below it.
pub const MIN_TOKENS: usize = 5;
/// Longest source sentence, in tokens.
pub const MAX_TOKENS: usize = 15;
/// The planted position when none is given.
pub const DEFAULT_POSITION: usize = 3;
const TRAIN_PAIRS: usize = 5000;
const DEV_PAIRS: usize = 200;
const TEST_PAIRS: usize = 200;

/// The source vocabulary.
pub const SOURCE_TOKENS: [&str; 20] =
    ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"];

/// The translation table: `TARGET_WORDS[i]` translates `SOURCE_TOKENS[i]`. Spelt unlike any source
/// token, so that nothing can be copied through, and in no order related to the source's.
#[rustfmt::skip]
pub const TARGET_WORDS: [&str; 20] = [
    "seven", "twelve", "zero", "nineteen", "four", "fifteen", "one", "ten", "eighteen", "three",
    "six", "thirteen", "nine", "two", "sixteen", "eleven", "five", "fourteen", "eight", "seventeen",
];

/// The three splits as (source, target) pairs. No source sentence occurs twice, so the dev and test
/// sentences are unseen in training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedCorpus {
    /// The 0-based source position whose token alone decides the target.
    pub position: usize,
    /// Training pairs (5,000).
    pub train: Vec<(String, String)>,
    /// Development pairs (200).
    pub dev: Vec<(String, String)>,
    /// Test pairs (200).
    pub test: Vec<(String, String)>,
}

/// Generates the corpus planting the answer at `position` (0-based, below [`MIN_TOKENS`]) for `seed`:
/// sentences are drawn until there are enough distinct ones; the first 200 are the test set, the next
/// 200 the dev set, the rest the training set.
pub fn generate(position: usize, seed: u64) -> Result<PlantedCorpus> {
    if position >= MIN_TOKENS {
        return Err(Error::Usage(format!(
            "--position {position}: must be 0 to {} (0-based, and the shortest sentence has {MIN_TOKENS} tokens)",
            MIN_TOKENS - 1
        )));
    }
    let mut rng = SplitMix64(seed);
    let total = TEST_PAIRS + DEV_PAIRS + TRAIN_PAIRS;
    let mut seen = HashSet::with_capacity(total);
    let mut pairs = Vec::with_capacity(total);
    while pairs.len() < total {
        let len = MIN_TOKENS + rng.below(MAX_TOKENS - MIN_TOKENS + 1);
        let tokens: Vec<usize> = (0..len).map(|_| rng.below(SOURCE_TOKENS.len())).collect();
        let src = tokens.iter().map(|&t| SOURCE_TOKENS[t]).collect::<Vec<_>>().join(" ");
        if seen.insert(src.clone()) {
            pairs.push((src, TARGET_WORDS[tokens[position]].to_string()));
        }
    }
    let train = pairs.split_off(TEST_PAIRS + DEV_PAIRS);
    let dev = pairs.split_off(TEST_PAIRS);
    Ok(PlantedCorpus { position, train, dev, test: pairs })
}

/// Writes `train.src train.tgt dev.src dev.tgt test.src test.tgt config.toml` for `position` and
/// `seed` into `dir` (created if needed), each file atomically; a different corpus already there is only
/// overwritten with `force` ([`write_corpus`]).
pub fn write(dir: &Path, position: usize, seed: u64, force: bool) -> Result<()> {
    let c = generate(position, seed)?;
    let mut files = parallel_files(&[("train", &c.train[..]), ("dev", &c.dev), ("test", &c.test)], "src", "tgt");
    files.push(("config.toml".into(), config_toml(position, seed)));
    write_corpus(dir, &files, force)
}

/// The training config written beside the corpus (data paths relative to it). One validation, at the
/// last step: the dev BLEU of one-word translations is always 0 (they have no 4-grams), so with more
/// validations `best` would stay the first one.
fn config_toml(position: usize, seed: u64) -> String {
    format!(
        r#"# Planted attention, written by `nmt corpus planted --position {position} --seed {seed}`: the target of each
# source sentence is one word, the translation of its token at position {position} (0-based) alone. There is no
# bridge, so attention is the decoder's only path from the source: a trained model attends to position {position}.
# Every scorer works by changing model.attention alone, e.g.
#   nmt train --config config.toml --out runs/planted-model --set model.attention=luong-general
[data]
train = "train"
dev = "dev"
test = "test"
src_lang = "src"
tgt_lang = "tgt"
tokenizer = "word"
vocab_size = 100
min_frequency = 1
max_len = 32

[model]
emb_size = 32
hidden_size = 64
encoder_layers = 1
bidirectional = true
dropout = 0.0
attention = "bahdanau"
decoder = "luong"
bridge = false

[train]
seed = 1
batch_size = 32
lr = 0.005
label_smoothing = 0.0
max_steps = 300
valid_every = 300
valid_samples = 3
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_table_translation_of_the_token_at_the_position_alone() {
        for position in 0..MIN_TOKENS {
            let c = generate(position, 7).unwrap();
            assert_eq!((c.train.len(), c.dev.len(), c.test.len()), (TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS));
            for (src, tgt) in c.train.iter().chain(&c.dev).chain(&c.test) {
                let tokens: Vec<&str> = src.split(' ').collect();
                assert!((MIN_TOKENS..=MAX_TOKENS).contains(&tokens.len()), "{src}");
                let i = SOURCE_TOKENS.iter().position(|&s| s == tokens[position]).unwrap();
                assert_eq!(tgt, TARGET_WORDS[i], "{src}");
            }
        }
    }

    #[test]
    fn lengths_and_tokens_cover_their_ranges_and_sources_are_distinct() {
        let c = generate(DEFAULT_POSITION, 1).unwrap();
        let all: Vec<&String> = c.train.iter().chain(&c.dev).chain(&c.test).map(|(s, _)| s).collect();
        let lengths: HashSet<usize> = all.iter().map(|s| s.split(' ').count()).collect();
        assert_eq!(lengths, (MIN_TOKENS..=MAX_TOKENS).collect());
        let tokens: HashSet<&str> = all.iter().flat_map(|s| s.split(' ')).collect();
        assert_eq!(tokens, SOURCE_TOKENS.into_iter().collect());
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        let targets: HashSet<&str> = TARGET_WORDS.into_iter().collect();
        assert_eq!(targets.len(), SOURCE_TOKENS.len());
        assert!(targets.iter().all(|t| !SOURCE_TOKENS.contains(t)));
    }

    #[test]
    fn a_seed_reproduces_the_corpus_and_another_seed_changes_it() {
        assert_eq!(generate(3, 5).unwrap(), generate(3, 5).unwrap());
        assert_ne!(generate(3, 5).unwrap().train, generate(3, 6).unwrap().train);
    }

    #[test]
    fn a_position_past_the_shortest_sentence_is_refused_naming_the_flag() {
        let err = generate(MIN_TOKENS, 1).unwrap_err().to_string();
        assert!(err.contains("--position 5: must be 0 to 4"), "{err}");
    }

    #[test]
    fn write_puts_the_six_split_files_and_the_config_in_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 2, 1, false).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["config.toml", "dev.src", "dev.tgt", "test.src", "test.tgt", "train.src", "train.tgt"]);
        let config = std::fs::read_to_string(tmp.path().join("config.toml")).unwrap();
        assert!(config.contains("bridge = false") && config.contains("position 2"), "{config}");
    }
}
