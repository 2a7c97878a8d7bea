//! Reading corpora: a parallel corpus (two aligned files `PREFIX.SRC` / `PREFIX.TGT`, or one
//! TSV file) streamed pair by pair, plain one-sentence-per-line text files or streams, and the
//! filter that drops unusable pairs before training while counting what it dropped.
//!
//! Every reader streams line by line through a bounded buffer (no whole-file read, at most
//! [`MAX_LINE_BYTES`] per line), accepts UTF-8 with an optional byte-order mark and LF or CRLF
//! line ends, and reports bad input as an error naming the file and the line.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The longest line (in bytes, without its terminator) a reader accepts; longer lines are an
/// error, so that one malformed file (e.g. binary data without newlines) cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One sentence pair of a parallel corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The source sentence, without its line terminator (other whitespace is kept).
    pub src: String,
    /// The target sentence, without its line terminator (other whitespace is kept).
    pub tgt: String,
    /// The 1-based line number of the pair in its file(s).
    pub line: usize,
}

/// Where a parallel corpus lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Two line-aligned files: line `i` of `src` translates to line `i` of `tgt`.
    Aligned { src: PathBuf, tgt: PathBuf },
    /// One file of `SOURCE<TAB>TARGET` lines.
    Tsv(PathBuf),
}

impl Source {
    /// The corpus named by `prefix`: the TSV file `prefix` itself when it is an existing file
    /// with extension `tsv`, otherwise the aligned files `PREFIX.SRC_LANG` and `PREFIX.TGT_LANG`
    /// (e.g. `data/train` with `de`, `en` → `data/train.de`, `data/train.en`).
    pub fn from_prefix(prefix: &Path, src_lang: &str, tgt_lang: &str) -> Source {
        if prefix.is_file() && prefix.extension().is_some_and(|e| e == "tsv") {
            return Source::Tsv(prefix.to_path_buf());
        }
        Source::Aligned { src: with_suffix(prefix, src_lang), tgt: with_suffix(prefix, tgt_lang) }
    }
}

/// `prefix` + `.` + `lang`, appended rather than substituted: `train.v2` + `de` → `train.v2.de`.
fn with_suffix(prefix: &Path, lang: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(lang);
    PathBuf::from(name)
}

/// A text file or stream read one validated line at a time (the reader behind [`read_text_lines`]
/// and [`PairReader`]); a line is returned as soon as its newline has been read, so a pipe that
/// another program writes a line at a time can be read line by line.
pub struct LineReader {
    /// What errors name: the file, or e.g. `<stdin>`.
    path: PathBuf,
    reader: BufReader<Box<dyn Read>>,
    /// Number of lines returned so far (so the 1-based number of the last one).
    line: usize,
    buf: Vec<u8>,
}

impl LineReader {
    /// The lines of the file at `path`.
    pub fn open(path: &Path) -> Result<LineReader> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::data(path, 0, "is a directory, expected a text file"));
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(LineReader::from_reader(path, file))
    }

    /// The lines of `reader` (e.g. standard input), its errors naming it `name` (e.g. `<stdin>`).
    pub fn from_reader(name: impl Into<PathBuf>, reader: impl Read + 'static) -> LineReader {
        LineReader { path: name.into(), reader: BufReader::new(Box::new(reader)), line: 0, buf: Vec::new() }
    }

    /// Whether the next line is already read in whole (its newline is buffered), so that
    /// [`Self::next_line`] returns it without waiting for input.
    pub fn line_buffered(&self) -> bool {
        self.reader.buffer().contains(&b'\n')
    }

    /// The next line without its terminator, or `None` at the end of the file. A last line
    /// without a final newline counts as a line. Errors name the file (or stream) and the line.
    pub fn next_line(&mut self) -> Result<Option<String>> {
        self.buf.clear();
        // Room for the longest allowed line plus "\r\n": reading stops there, so a line without
        // newlines never grows the buffer past the cap.
        let limit = (MAX_LINE_BYTES + 2) as u64;
        let n =
            (&mut self.reader).take(limit).read_until(b'\n', &mut self.buf).map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let line = self.line;
        let mut bytes = &self.buf[..];
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
        } else if n as u64 == limit {
            return Err(self.too_long());
        }
        if bytes.len() > MAX_LINE_BYTES {
            return Err(self.too_long());
        }
        if line == 1 {
            if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
                return Err(Error::data(
                    &self.path,
                    line,
                    "the file starts with a UTF-16 byte-order mark; convert it to UTF-8",
                ));
            }
            bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            return Err(Error::data(
                &self.path,
                line,
                format!("NUL byte at byte {} of the line; expected UTF-8 text, is this a binary file?", at + 1),
            ));
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Some(text.to_owned())),
            Err(e) => Err(Error::data(
                &self.path,
                line,
                format!("invalid UTF-8 at byte {} of the line; the file must be UTF-8 encoded", e.valid_up_to() + 1),
            )),
        }
    }

    fn too_long(&self) -> Error {
        Error::data(
            &self.path,
            self.line,
            format!("line longer than {MAX_LINE_BYTES} bytes; is this a text file with one sentence per line?"),
        )
    }

    /// Total number of lines of the file: those returned so far plus the rest, counted without
    /// validating them (only used to report a line-count mismatch).
    fn count_all(&mut self) -> Result<usize> {
        let mut count = self.line;
        let mut last = b'\n';
        loop {
            let chunk = self.reader.fill_buf().map_err(|e| Error::io(&self.path, e))?;
            let Some(&end) = chunk.last() else { break };
            count += chunk.iter().filter(|&&b| b == b'\n').count();
            last = end;
            let len = chunk.len();
            self.reader.consume(len);
        }
        if last != b'\n' {
            count += 1;
        }
        Ok(count)
    }

    /// An error for a file that has no line at all.
    fn empty(&self) -> Error {
        Error::data(&self.path, 0, "empty file: a corpus needs at least one sentence")
    }
}

/// A streaming reader of a parallel corpus: an iterator of pairs in file order.
///
/// After the first error it yields nothing more. Errors: a missing, unreadable or empty file,
/// a directory, invalid UTF-8, a NUL byte, a line over [`MAX_LINE_BYTES`], a TSV line without
/// exactly one tab (each naming the file and line), and two aligned files with different line
/// counts (naming both files and both counts).
pub struct PairReader {
    lines: Lines,
    done: bool,
}

enum Lines {
    Aligned { src: LineReader, tgt: LineReader },
    Tsv(LineReader),
}

impl PairReader {
    /// Opens the file(s) of `source`; a missing file or a directory is reported here.
    pub fn open(source: &Source) -> Result<PairReader> {
        let lines = match source {
            Source::Aligned { src, tgt } => Lines::Aligned { src: LineReader::open(src)?, tgt: LineReader::open(tgt)? },
            Source::Tsv(path) => Lines::Tsv(LineReader::open(path)?),
        };
        Ok(PairReader { lines, done: false })
    }

    fn next_pair(&mut self) -> Result<Option<Pair>> {
        match &mut self.lines {
            Lines::Aligned { src, tgt } => {
                let s = src.next_line()?;
                let t = tgt.next_line()?;
                match (s, t) {
                    (Some(src_text), Some(tgt_text)) => Ok(Some(Pair { src: src_text, tgt: tgt_text, line: src.line })),
                    (None, None) if src.line == 0 => Err(src.empty()),
                    (None, None) => Ok(None),
                    (Some(_), None) if tgt.line == 0 => Err(tgt.empty()),
                    (None, Some(_)) if src.line == 0 => Err(src.empty()),
                    _ => {
                        // One side ended early: count the other side to the end so that the
                        // message gives both totals, which tells the user how far off they are.
                        let src_count = src.count_all()?;
                        let tgt_count = tgt.count_all()?;
                        Err(Error::data(
                            &src.path,
                            0,
                            format!(
                                "has {src_count} lines but {} has {tgt_count}; the two sides of a \
                                 parallel corpus must have one sentence per line, aligned",
                                tgt.path.display()
                            ),
                        ))
                    }
                }
            }
            Lines::Tsv(reader) => {
                let Some(text) = reader.next_line()? else {
                    return if reader.line == 0 { Err(reader.empty()) } else { Ok(None) };
                };
                match text.split_once('\t') {
                    Some((src, tgt)) if !tgt.contains('\t') => {
                        Ok(Some(Pair { src: src.to_owned(), tgt: tgt.to_owned(), line: reader.line }))
                    }
                    split => {
                        let found = match split {
                            None => "no tab".to_owned(),
                            Some(_) => format!("{} tabs", text.matches('\t').count()),
                        };
                        Err(Error::data(
                            &reader.path,
                            reader.line,
                            format!("expected SOURCE<TAB>TARGET with exactly one tab, found {found}"),
                        ))
                    }
                }
            }
        }
    }
}

impl Iterator for PairReader {
    type Item = Result<Pair>;

    fn next(&mut self) -> Option<Result<Pair>> {
        if self.done {
            return None;
        }
        let item = self.next_pair().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// All pairs of `source`, in order (see [`PairReader`] for the errors).
pub fn read_pairs(source: &Source) -> Result<Vec<Pair>> {
    PairReader::open(source)?.collect()
}

/// What [`filter_pairs`] dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterStats {
    /// Pairs with an empty or whitespace-only side.
    pub empty: usize,
    /// Pairs with a side longer than the character limit.
    pub too_long: usize,
}

/// Keeps the pairs usable for training: drops those with an empty (whitespace-only) side, and
/// those with a side longer than `max_chars` characters, counting each kind so that the caller
/// can report them. The first read error is returned as is.
pub fn filter_pairs(pairs: impl Iterator<Item = Result<Pair>>, max_chars: usize) -> Result<(Vec<Pair>, FilterStats)> {
    let mut kept = Vec::new();
    let mut stats = FilterStats::default();
    for pair in pairs {
        let pair = pair?;
        if pair.src.trim().is_empty() || pair.tgt.trim().is_empty() {
            stats.empty += 1;
        } else if longer_than(&pair.src, max_chars) || longer_than(&pair.tgt, max_chars) {
            stats.too_long += 1;
        } else {
            kept.push(pair);
        }
    }
    Ok((kept, stats))
}

fn longer_than(text: &str, max_chars: usize) -> bool {
    // A char is at least one byte, so short texts skip the count.
    text.len() > max_chars && text.chars().nth(max_chars).is_some()
}

/// The lines of one UTF-8 text file (a byte-order mark and CRLF line ends are accepted), for
/// inputs that must stay aligned line by line with an output: empty lines are kept, a last line
/// without a newline counts, and an empty file gives no lines. Errors name the file and line.
pub fn read_text_lines(path: &Path) -> Result<Vec<String>> {
    let mut reader = LineReader::open(path)?;
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line()? {
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn suffix_is_appended_not_substituted() {
        assert_eq!(with_suffix(Path::new("d/train.v2"), "de"), PathBuf::from("d/train.v2.de"));
    }

    #[test]
    fn line_reader_strips_bom_crlf_and_counts_unterminated_last_line() {
        let (_d, path) = file_with(b"\xEF\xBB\xBFa b\r\n\r\n c \n\xEF\xBB\xBFd");
        let mut r = LineReader::open(&path).unwrap();
        let mut got = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            got.push(l);
        }
        // Only the first line's BOM is a BOM; later U+FEFF characters are text.
        assert_eq!(got, ["a b", "", " c ", "\u{feff}d"]);
    }

    #[test]
    fn count_all_counts_returned_and_remaining_lines() {
        for (bytes, total) in [(&b"a\nb\nc\n"[..], 3), (b"a\nb\nc", 3), (b"a\n\n", 2)] {
            let (_d, path) = file_with(bytes);
            let mut r = LineReader::open(&path).unwrap();
            r.next_line().unwrap();
            assert_eq!(r.count_all().unwrap(), total, "{bytes:?}");
        }
    }

    #[test]
    fn line_of_exactly_max_bytes_with_crlf_is_accepted() {
        let mut bytes = vec![b'x'; MAX_LINE_BYTES];
        bytes.extend_from_slice(b"\r\nend");
        let (_d, path) = file_with(&bytes);
        let lines = read_text_lines(&path).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[1], "end");
    }

    #[test]
    fn line_one_byte_over_max_is_rejected_with_or_without_newline() {
        for terminator in [&b"\n"[..], b""] {
            let mut bytes = vec![b'x'; MAX_LINE_BYTES + 1];
            bytes.extend_from_slice(terminator);
            let (_d, path) = file_with(&bytes);
            let msg = read_text_lines(&path).unwrap_err().to_string();
            assert!(msg.contains(":1: line longer than"), "{msg}");
        }
    }

    #[test]
    fn utf16_file_is_named_as_such() {
        let (_d, path) = file_with(b"\xFF\xFEa\x00\n\x00");
        let msg = read_text_lines(&path).unwrap_err().to_string();
        assert!(msg.contains(":1: ") && msg.contains("UTF-16"), "{msg}");
    }

    #[test]
    fn longer_than_counts_characters_not_bytes() {
        assert!(!longer_than("ééé", 3));
        assert!(longer_than("éééé", 3));
        assert!(!longer_than("", 0));
    }
}
