//! BLEU and chrF, computed exactly as sacreBLEU 2.x computes them with its defaults, so that
//! numbers printed by `nmt` can be compared with published ones.
//!
//! * [`bleu`] is sacreBLEU's corpus BLEU (`BLEU()` / `sacrebleu -m bleu`): the `13a` tokenizer
//!   (a port of mteval-v13a.pl, see [`tokenize_13a`]), n-grams up to 4, one reference per
//!   sentence, n-gram counts and lengths summed over the corpus before any division, the brevity
//!   penalty `exp(1 - ref_len / hyp_len)`, `exp` smoothing (NIST's: the k-th order without a
//!   match gets precision `1 / (2^k · total)`), no effective order. `lowercase` is `-lc`.
//! * [`chrf`] is sacreBLEU's default chrF (`CHRF()` / `-m chrf`, chrF2): character n-grams of
//!   orders 1 to 6 over the sentence with all whitespace removed, no word n-grams, β = 2.
//!   Hypothesis, reference and match counts are summed over the corpus; precision and recall are
//!   averaged over the orders that have both hypothesis and reference n-grams (sacreBLEU's
//!   default `eps_smoothing=False`), then combined into one F-score.
//!
//! Both operate on Unicode code points as Python strings do, split on Python's notion of
//! whitespace and lowercase with full Unicode case mapping like `str.lower()`.
//! tests/metrics_sacrebleu.rs checks them against numbers produced by sacreBLEU itself
//! (scripts/sacrebleu_fixtures.py).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

/// Highest word n-gram order of BLEU.
const BLEU_ORDER: usize = 4;
/// Highest character n-gram order of chrF.
const CHRF_ORDER: usize = 6;
/// chrF's β: recall weighs β² times as much as precision.
const CHRF_BETA: f64 = 2.0;

/// Corpus BLEU with the statistics sacreBLEU prints beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bleu {
    /// BLEU, 0–100.
    pub score: f64,
    /// Modified n-gram precisions for n = 1..4, 0–100, after smoothing.
    pub precisions: [f64; 4],
    /// Brevity penalty, 0–1.
    pub bp: f64,
    /// Number of hypothesis tokens after tokenization.
    pub sys_len: usize,
    /// Number of reference tokens after tokenization.
    pub ref_len: usize,
}

/// The same line as sacreBLEU prints without a signature, e.g.
/// `BLEU = 35.12 67.1/42.0/28.3/19.5 (BP = 1.000 ratio = 1.002 hyp_len = 12345 ref_len = 12320)`.
impl fmt::Display for Bleu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // sacreBLEU prints a ratio of 0 when there is no reference token at all.
        let ratio = if self.ref_len > 0 { self.sys_len as f64 / self.ref_len as f64 } else { 0.0 };
        let [p1, p2, p3, p4] = self.precisions;
        write!(
            f,
            "BLEU = {:.2} {p1:.1}/{p2:.1}/{p3:.1}/{p4:.1} (BP = {:.3} ratio = {ratio:.3} hyp_len = {} ref_len = {})",
            self.score, self.bp, self.sys_len, self.ref_len
        )
    }
}

/// Corpus chrF (chrF2).
#[derive(Debug, Clone, PartialEq)]
pub struct Chrf {
    /// chrF, 0–100.
    pub score: f64,
}

/// sacreBLEU's line, e.g. `chrF2 = 55.12`.
impl fmt::Display for Chrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chrF2 = {:.2}", self.score)
    }
}

/// Corpus BLEU of `hyps` against `refs` (line i of one against line i of the other), as
/// sacreBLEU's defaults compute it; `lowercase` lowercases both sides first (`-lc`).
///
/// An empty corpus scores 0 with all statistics 0 and a brevity penalty of 1 (sacreBLEU itself
/// fails on it).
///
/// # Errors
/// [`Error::Usage`] when the two slices differ in length.
pub fn bleu(hyps: &[impl AsRef<str>], refs: &[impl AsRef<str>], lowercase: bool) -> Result<Bleu> {
    check_parallel(hyps.len(), refs.len())?;
    let mut stats = BleuStats::default();
    for (hyp, reference) in hyps.iter().zip(refs) {
        let hyp = tokenize_13a(&prepare(hyp.as_ref(), lowercase));
        let reference = tokenize_13a(&prepare(reference.as_ref(), lowercase));
        stats.add(&hyp, &reference);
    }
    Ok(stats.bleu())
}

/// Corpus chrF of `hyps` against `refs` (line i of one against line i of the other), as
/// sacreBLEU's defaults compute it; `lowercase` lowercases both sides first.
///
/// An empty corpus scores 0.
///
/// # Errors
/// [`Error::Usage`] when the two slices differ in length.
pub fn chrf(hyps: &[impl AsRef<str>], refs: &[impl AsRef<str>], lowercase: bool) -> Result<Chrf> {
    check_parallel(hyps.len(), refs.len())?;
    let mut stats = [ChrfOrderStats::default(); CHRF_ORDER];
    for (hyp, reference) in hyps.iter().zip(refs) {
        let hyp = without_whitespace(&lowercased(hyp.as_ref(), lowercase));
        let reference = without_whitespace(&lowercased(reference.as_ref(), lowercase));
        for (n, order) in (1..=CHRF_ORDER).zip(&mut stats) {
            order.add(&ngram_counts(&hyp, n), &ngram_counts(&reference, n));
        }
    }
    Ok(Chrf { score: chrf_score(&stats) })
}

fn check_parallel(n_hyps: usize, n_refs: usize) -> Result<()> {
    if n_hyps == n_refs {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "cannot score {n_hyps} hypotheses against {n_refs} references: \
             every hypothesis needs exactly one reference"
        )))
    }
}

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII information separators
/// U+001C..U+001F, which Python's `str.split()` also splits on.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn lowercased(text: &str, lowercase: bool) -> String {
    if lowercase {
        text.to_lowercase()
    } else {
        text.to_owned()
    }
}

/// sacreBLEU's BLEU pre-processing before the tokenizer: optional lowercasing, then `rstrip()`.
fn prepare(text: &str, lowercase: bool) -> String {
    let mut text = lowercased(text, lowercase);
    text.truncate(text.trim_end_matches(is_python_space).len());
    text
}

/// mteval-v13a's language-dependent rules, as sacreBLEU's `TokenizerRegexp` writes them
/// (applied in this order, each to the result of the previous one).
static TOKENIZER_RULES: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
    // The patterns are constants covered by the unit tests below, so compiling cannot fail at
    // run time once those pass.
    let rule = |pattern: &str, replacement| (Regex::new(pattern).expect("valid constant regex"), replacement);
    [
        // Most ASCII punctuation (not . , - ' and not digits or letters) becomes a token.
        rule(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", " ${1} "),
        // Period and comma are split off unless preceded by a digit ...
        rule(r"([^0-9])([\.,])", "${1} ${2} "),
        // ... or followed by one, so `1,000.50` stays whole but `end.` does not.
        rule(r"([\.,])([^0-9])", " ${1} ${2}"),
        // A dash after a digit is split off (`1999-2000`), other dashes are kept (`well-known`).
        rule(r"([0-9])(-)", "${1} ${2} "),
    ]
});

/// sacreBLEU's `13a` tokenizer (mteval-v13a.pl): tokens joined by single spaces.
///
/// First the language-independent part: `<skipped>` is deleted, a hyphen at a line break joins
/// the two halves (`well-\nknown` → `wellknown`), other line breaks become spaces, and the
/// entities `&quot;`, `&amp;`, `&lt;`, `&gt;` are unescaped in that order (so `&amp;lt;` becomes
/// `<`; no other entity is touched). Then four regex rules split off ASCII punctuation, periods
/// and commas not between digits, and dashes after digits, over the line padded with a space
/// on each side; the result is split on (Python's) whitespace. No lowercasing or stripping here:
/// [`bleu`] does that first.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (regex, replacement) in TOKENIZER_RULES.iter() {
        line = regex.replace_all(&line, *replacement).into_owned();
    }
    line.split(is_python_space).filter(|token| !token.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Counts of every n-gram of exactly order `n` in `items` (none when there are fewer than `n`).
fn ngram_counts<T: Eq + Hash>(items: &[T], n: usize) -> HashMap<&[T], usize> {
    let mut counts = HashMap::new();
    for gram in items.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

/// BLEU's sufficient statistics, summed over the sentences seen so far.
#[derive(Debug, Default)]
struct BleuStats {
    sys_len: usize,
    ref_len: usize,
    /// Clipped matches per order: a hypothesis n-gram counts at most as often as in the reference.
    correct: [usize; BLEU_ORDER],
    /// Hypothesis n-grams per order.
    total: [usize; BLEU_ORDER],
}

impl BleuStats {
    /// Adds one tokenized sentence pair.
    fn add(&mut self, hyp: &str, reference: &str) {
        let hyp: Vec<&str> = hyp.split(' ').filter(|t| !t.is_empty()).collect();
        let reference: Vec<&str> = reference.split(' ').filter(|t| !t.is_empty()).collect();
        self.sys_len += hyp.len();
        self.ref_len += reference.len();
        for n in 1..=BLEU_ORDER {
            let ref_counts = ngram_counts(&reference, n);
            for (gram, count) in ngram_counts(&hyp, n) {
                self.total[n - 1] += count;
                self.correct[n - 1] += count.min(ref_counts.get(gram).copied().unwrap_or(0));
            }
        }
    }

    /// sacreBLEU's `BLEU.compute_bleu` with `smooth_method='exp'` and `effective_order=False`.
    fn bleu(&self) -> Bleu {
        let (sys_len, ref_len) = (self.sys_len, self.ref_len);
        let bp = match sys_len {
            _ if sys_len >= ref_len => 1.0,
            0 => 0.0,
            _ => (1.0 - ref_len as f64 / sys_len as f64).exp(),
        };
        let mut precisions = [0.0; BLEU_ORDER];
        // sacreBLEU returns 0 at once when nothing matches at any order (its issue #141).
        if self.correct.iter().all(|&c| c == 0) {
            return Bleu { score: 0.0, precisions, bp, sys_len, ref_len };
        }
        let mut smooth = 1.0;
        for ((precision, &correct), &total) in precisions.iter_mut().zip(&self.correct).zip(&self.total) {
            // No n-gram of this order in the hypotheses (all sentences too short): the
            // precision stays 0 for this and every higher order, and the score becomes 0.
            if total == 0 {
                break;
            }
            *precision = if correct == 0 {
                smooth *= 2.0;
                100.0 / (smooth * total as f64)
            } else {
                100.0 * correct as f64 / total as f64
            };
        }
        // sacreBLEU's `my_log` floors log(0) at -9999999999 rather than -inf; the result is
        // the same 0 score, written the same way to keep the arithmetic identical.
        let log_sum: f64 = precisions.iter().map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() }).sum();
        let score = bp * (log_sum / BLEU_ORDER as f64).exp();
        Bleu { score, precisions, bp, sys_len, ref_len }
    }
}

/// The sentence with every whitespace character removed, as code points.
fn without_whitespace(text: &str) -> Vec<char> {
    text.chars().filter(|&c| !is_python_space(c)).collect()
}

/// chrF statistics of one character n-gram order, summed over the sentences seen so far.
#[derive(Debug, Default, Clone, Copy)]
struct ChrfOrderStats {
    hyp: usize,
    reference: usize,
    matched: usize,
}

impl ChrfOrderStats {
    /// Adds one sentence pair's n-grams of this order.
    fn add(&mut self, hyp: &HashMap<&[char], usize>, reference: &HashMap<&[char], usize>) {
        // sacreBLEU does not count hypothesis n-grams of an order the reference sentence is
        // too short to have, so such orders do not lower precision.
        if !reference.is_empty() {
            self.hyp += hyp.values().sum::<usize>();
        }
        self.reference += reference.values().sum::<usize>();
        self.matched +=
            hyp.iter().map(|(gram, &count)| count.min(reference.get(gram).copied().unwrap_or(0))).sum::<usize>();
    }
}

/// sacreBLEU's `CHRF._compute_f_score` with `eps_smoothing=False`: precision and recall are
/// averaged over the orders where both sides have n-grams (the "effective order"), then
/// combined. Its `eps` only enters the `eps_smoothing=True` branch, so it plays no part here.
fn chrf_score(stats: &[ChrfOrderStats]) -> f64 {
    let factor = CHRF_BETA * CHRF_BETA;
    let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0usize);
    for order in stats.iter().filter(|o| o.hyp > 0 && o.reference > 0) {
        avg_prec += order.matched as f64 / order.hyp as f64;
        avg_rec += order.matched as f64 / order.reference as f64;
        effective_order += 1;
    }
    if effective_order == 0 {
        return 0.0;
    }
    avg_prec /= effective_order as f64;
    avg_rec /= effective_order as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    100.0 * ((1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected outputs were produced by sacreBLEU 2.6.0's `Tokenizer13a`.
    fn check_13a(input: &str, expected: &str) {
        assert_eq!(tokenize_13a(input), expected, "input {input:?}");
    }

    #[test]
    fn tokenizer_13a_splits_sentence_punctuation() {
        check_13a("Hello, world.", "Hello , world .");
    }

    #[test]
    fn tokenizer_13a_keeps_periods_and_commas_between_digits() {
        check_13a("It costs $1,000.50, i.e. 3.14.", "It costs $ 1,000.50 , i . e . 3.14 .");
        check_13a("end.3 3.end a,b 1,2,3. 12,", "end . 3 3 . end a , b 1,2,3 . 12 ,");
        check_13a("a..b,,c ..., 5..6", "a . . b , , c . . . , 5 . . 6");
    }

    #[test]
    fn tokenizer_13a_splits_dash_only_after_a_digit() {
        check_13a("1999-2000 and 3-4 but well-known -5", "1999 - 2000 and 3 - 4 but well-known -5");
    }

    #[test]
    fn tokenizer_13a_unescapes_four_entities_in_order() {
        check_13a("He said &quot;yes&quot; &amp; &lt;b&gt; &amp;lt; &apos;", "He said \" yes \" & < b > < & apos ;");
    }

    #[test]
    fn tokenizer_13a_joins_hyphenated_line_breaks_and_drops_skipped() {
        check_13a("a well-\nknown<skipped> fact\nhere", "a wellknown fact here");
    }

    #[test]
    fn tokenizer_13a_splits_every_listed_ascii_symbol() {
        check_13a(
            "x!y\"z#a$b%c&d(e)f*g+h/i:j;k<l=m>n?o@p[q\\r]s^t_u`v{w|x}y~z",
            "x ! y \" z # a $ b % c & d ( e ) f * g + h / i : j ; k < l = m > n ? o @ p [ q \\ r ] s ^ t _ u ` v { w | x } y ~ z",
        );
    }

    #[test]
    fn tokenizer_13a_leaves_apostrophes_and_non_ascii_punctuation_alone() {
        check_13a("don't l'homme 'quoted'", "don't l'homme 'quoted'");
        check_13a("« Il a dit : „ja“ — puis… »", "« Il a dit : „ja“ — puis… »");
    }

    #[test]
    fn tokenizer_13a_splits_on_python_whitespace_only() {
        // NBSP and U+001C separate tokens in Python; the zero-width space does not.
        check_13a("tab\there\u{a0}nbsp\u{1c}fs\u{200b}zw", "tab here nbsp fs\u{200b}zw");
    }

    #[test]
    fn mismatched_lengths_are_a_usage_error_naming_both_counts() {
        for err in [bleu(&["a", "b"], &["a"], false).unwrap_err(), chrf(&["a", "b"], &["a"], false).unwrap_err()] {
            let Error::Usage(msg) = &err else { panic!("expected Error::Usage, got {err:?}") };
            assert!(msg.contains("2 hypotheses") && msg.contains("1 references"), "{msg}");
        }
    }

    #[test]
    fn bleu_display_matches_sacrebleu_layout() {
        let b =
            Bleu { score: 35.1234, precisions: [67.12, 42.0, 28.34, 19.5], bp: 1.0, sys_len: 12345, ref_len: 12320 };
        assert_eq!(
            b.to_string(),
            "BLEU = 35.12 67.1/42.0/28.3/19.5 (BP = 1.000 ratio = 1.002 hyp_len = 12345 ref_len = 12320)"
        );
    }

    #[test]
    fn chrf_display_matches_sacrebleu_layout() {
        assert_eq!(Chrf { score: 55.1249 }.to_string(), "chrF2 = 55.12");
    }
}
