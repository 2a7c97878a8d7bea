//! The one error type of the library. Every variant names what the user has to look at:
//! a file (and line), a config field, or a model directory.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed at a given line (1-based; 0 when the problem is the whole file).
    #[error("{}{}: {msg}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Data { path: PathBuf, line: usize, msg: String },
    /// A configuration value is unknown, of the wrong type or impossible.
    #[error("config: {0}")]
    Config(String),
    /// A model directory is incomplete, corrupt or does not match its config.
    #[error("model {}: {msg}", dir.display())]
    Model { dir: PathBuf, msg: String },
    /// A tokenizer could not be trained, loaded or applied.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Rendering a picture failed.
    #[error("render {}: {msg}", path.display())]
    Render { path: PathBuf, msg: String },
    /// The user asked for something that cannot be done (bad flag combination, bad value).
    #[error("{0}")]
    Usage(String),
    /// Training stopped because it could not go on (e.g. a non-finite loss).
    #[error("training: {0}")]
    Training(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A data error at `line` (1-based) of `path`.
    pub fn data(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Data { path: path.into(), line, msg: msg.into() }
    }

    /// A model-directory error.
    pub fn model(dir: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Model { dir: dir.into(), msg: msg.into() }
    }
}
