//! The corpus reader on good and bad input: every failure names the file (and the line when
//! there is one), and the messages are checked, not just the failure.

use nmt::data::corpus::{
    filter_pairs, read_pairs, read_text_lines, FilterStats, Pair, PairReader, Source, MAX_LINE_BYTES,
};
use std::path::{Path, PathBuf};

/// A temporary directory holding the given files.
fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn aligned(dir: &Path) -> Source {
    Source::from_prefix(&dir.join("train"), "de", "en")
}

fn pair(src: &str, tgt: &str, line: usize) -> Pair {
    Pair { src: src.into(), tgt: tgt.into(), line }
}

fn error_of(source: &Source) -> String {
    read_pairs(source).unwrap_err().to_string()
}

#[test]
fn aligned_files_give_numbered_pairs_in_order() {
    let dir = dir_with(&[("train.de", b"ein Haus\n  zwei  \n"), ("train.en", b"a house\n  two  \n")]);
    let pairs = read_pairs(&aligned(dir.path())).unwrap();
    // Only the terminator is removed: inner and outer spaces are the caller's business.
    assert_eq!(pairs, [pair("ein Haus", "a house", 1), pair("  zwei  ", "  two  ", 2)]);
}

#[test]
fn from_prefix_appends_languages_and_recognizes_an_existing_tsv() {
    let dir = dir_with(&[("c.tsv", b"a\tb\n")]);
    let tsv = dir.path().join("c.tsv");
    assert_eq!(Source::from_prefix(&tsv, "de", "en"), Source::Tsv(tsv.clone()));
    assert_eq!(
        Source::from_prefix(&dir.path().join("train"), "de", "en"),
        Source::Aligned { src: dir.path().join("train.de"), tgt: dir.path().join("train.en") }
    );
    // A prefix that merely looks like a TSV but does not exist names aligned files.
    let missing = dir.path().join("none.tsv");
    assert!(matches!(Source::from_prefix(&missing, "de", "en"), Source::Aligned { .. }));
}

#[test]
fn tsv_splits_each_line_at_its_tab() {
    let dir = dir_with(&[("c.tsv", b"ein Haus\ta house\n\t\nx\ty")]);
    let pairs = read_pairs(&Source::Tsv(dir.path().join("c.tsv"))).unwrap();
    assert_eq!(pairs, [pair("ein Haus", "a house", 1), pair("", "", 2), pair("x", "y", 3)]);
}

#[test]
fn bom_and_crlf_are_removed_from_both_files() {
    let dir = dir_with(&[("train.de", b"\xEF\xBB\xBFeins\r\nzwei\r\n"), ("train.en", b"one\r\n\xEF\xBB\xBFtwo")]);
    let pairs = read_pairs(&aligned(dir.path())).unwrap();
    // A BOM is only a BOM at the start of a file; elsewhere it is text (U+FEFF).
    assert_eq!(pairs, [pair("eins", "one", 1), pair("zwei", "\u{feff}two", 2)]);
    let tsv = dir_with(&[("c.tsv", b"\xEF\xBB\xBFa\tb\r\n")]);
    assert_eq!(read_pairs(&Source::Tsv(tsv.path().join("c.tsv"))).unwrap(), [pair("a", "b", 1)]);
}

#[test]
fn mismatched_line_counts_name_both_files_and_both_counts() {
    let dir = dir_with(&[("train.de", b"1\n2\n3\n4\n5"), ("train.en", b"1\n2\n3\n")]);
    let msg = error_of(&aligned(dir.path()));
    let (de, en) = (dir.path().join("train.de"), dir.path().join("train.en"));
    assert!(msg.contains(&format!("{}: has 5 lines but {} has 3", de.display(), en.display())), "{msg}");

    let dir = dir_with(&[("train.de", b"1\n"), ("train.en", b"1\n2\n3\n4\n")]);
    let msg = error_of(&aligned(dir.path()));
    assert!(msg.contains("has 1 lines but") && msg.contains("train.en has 4"), "{msg}");
}

#[test]
fn mismatch_is_reported_after_the_pairs_that_do_align() {
    let dir = dir_with(&[("train.de", b"a\nb\nc\n"), ("train.en", b"a\nb\n")]);
    let results: Vec<_> = PairReader::open(&aligned(dir.path())).unwrap().collect();
    assert_eq!(results.len(), 3, "two pairs, then one error, then nothing");
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(results[2].as_ref().unwrap_err().to_string().contains("has 3 lines"));
}

#[test]
fn invalid_utf8_names_the_file_the_line_and_the_byte() {
    let dir = dir_with(&[("train.de", b"gut\nbad \xE9t\xE9\nok\n"), ("train.en", b"good\nsummer\nok\n")]);
    let msg = error_of(&aligned(dir.path()));
    let de = dir.path().join("train.de");
    assert!(msg.starts_with(&format!("{}:2: invalid UTF-8 at byte 5", de.display())), "{msg}");
}

#[test]
fn nul_byte_names_the_line() {
    let dir = dir_with(&[("train.de", b"a\nb\n"), ("train.en", b"a\nb\x00c\n")]);
    let msg = error_of(&aligned(dir.path()));
    assert!(msg.contains("train.en:2: NUL byte"), "{msg}");
}

#[test]
fn missing_file_is_named() {
    let dir = dir_with(&[("train.de", b"a\n")]);
    let err = PairReader::open(&aligned(dir.path())).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("train.en") && msg.contains("No such file"), "{msg}");
    assert!(matches!(err, nmt::error::Error::Io { .. }));
}

#[test]
fn directory_instead_of_a_file_is_named() {
    let dir = dir_with(&[("train.de", b"a\n")]);
    std::fs::create_dir(dir.path().join("train.en")).unwrap();
    let msg = error_of(&aligned(dir.path()));
    assert!(msg.contains("train.en: is a directory"), "{msg}");
    let msg = read_text_lines(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("is a directory"), "{msg}");
}

#[test]
fn empty_file_is_an_error_for_a_corpus() {
    for (de, en, culprit) in [(&b""[..], &b"a\n"[..], "train.de"), (b"a\n", b"", "train.en"), (b"", b"", "train.de")] {
        let dir = dir_with(&[("train.de", de), ("train.en", en)]);
        let msg = error_of(&aligned(dir.path()));
        assert!(msg.contains(&format!("{culprit}: empty file")), "{msg}");
    }
    let dir = dir_with(&[("c.tsv", b"")]);
    let msg = error_of(&Source::Tsv(dir.path().join("c.tsv")));
    assert!(msg.contains("c.tsv: empty file"), "{msg}");
}

#[test]
fn tsv_line_without_exactly_one_tab_names_the_line() {
    let dir = dir_with(&[("c.tsv", b"a\tb\nno tab here\n")]);
    let msg = error_of(&Source::Tsv(dir.path().join("c.tsv")));
    assert!(msg.contains("c.tsv:2: expected SOURCE<TAB>TARGET with exactly one tab, found no tab"), "{msg}");
    let dir = dir_with(&[("c.tsv", b"a\tb\tc\n")]);
    let msg = error_of(&Source::Tsv(dir.path().join("c.tsv")));
    assert!(msg.contains("c.tsv:1: ") && msg.contains("found 2 tabs"), "{msg}");
}

#[test]
fn line_of_100_kb_is_read_whole() {
    let long = "wort ".repeat(20_000);
    let dir = dir_with(&[("train.de", format!("kurz\n{long}\n").as_bytes()), ("train.en", b"short\nlong\n")]);
    let pairs = read_pairs(&aligned(dir.path())).unwrap();
    assert_eq!(pairs[1].src.len(), 100_000);
}

#[test]
fn line_over_the_cap_is_rejected_naming_the_line() {
    let mut de = b"kurz\n".to_vec();
    de.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
    de.push(b'\n');
    let dir = dir_with(&[("train.de", &de), ("train.en", b"short\nlong\n")]);
    let msg = error_of(&aligned(dir.path()));
    assert!(msg.contains(&format!("train.de:2: line longer than {MAX_LINE_BYTES} bytes")), "{msg}");
}

#[test]
fn filter_drops_and_counts_empty_and_over_long_pairs() {
    let pairs = vec![
        pair("ok", "fine", 1),
        pair("  ", "x", 2),
        pair("x", "", 3),
        pair("ééééé", "short", 4),  // 5 characters (10 bytes): within a 5-character limit
        pair("abcdef", "short", 5), // 6 characters
        pair("short", "abcdefgh", 6),
    ];
    let (kept, stats) = filter_pairs(pairs.into_iter().map(Ok), 5).unwrap();
    assert_eq!(kept.iter().map(|p| p.line).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(stats, FilterStats { empty: 2, too_long: 2 });
}

#[test]
fn filter_returns_the_first_read_error() {
    let dir = dir_with(&[("train.de", b"a\n\xFF\n"), ("train.en", b"a\nb\n")]);
    let reader = PairReader::open(&aligned(dir.path())).unwrap();
    let msg = filter_pairs(reader, 100).unwrap_err().to_string();
    assert!(msg.contains("train.de:2: invalid UTF-8"), "{msg}");
}

#[test]
fn text_lines_keep_empty_lines_and_an_unterminated_last_line() {
    let dir = dir_with(&[("in.txt", b"\xEF\xBB\xBFone\r\n\r\n   \nlast")]);
    let lines = read_text_lines(&dir.path().join("in.txt")).unwrap();
    assert_eq!(lines, ["one", "", "   ", "last"]);
}

#[test]
fn text_lines_of_an_empty_file_are_none() {
    let dir = dir_with(&[("in.txt", b"")]);
    assert!(read_text_lines(&dir.path().join("in.txt")).unwrap().is_empty());
}

#[test]
fn text_lines_errors_name_file_and_line() {
    let dir = dir_with(&[("in.txt", b"a\nb\nc\xC3\n")]);
    let msg = read_text_lines(&dir.path().join("in.txt")).unwrap_err().to_string();
    assert!(msg.contains("in.txt:3: invalid UTF-8 at byte 2"), "{msg}");
    let missing: PathBuf = dir.path().join("nope.txt");
    let msg = read_text_lines(&missing).unwrap_err().to_string();
    assert!(msg.contains("nope.txt") && msg.contains("No such file"), "{msg}");
}
