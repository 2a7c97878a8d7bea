//! The gallery page: one self-contained `index.html` listing every sentence of a test set with its
//! translation and its heatmap, so a person can scroll through them.

use crate::error::Result;
use crate::fsutil::write_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// One sentence of the gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryEntry {
    /// 0-based input line.
    pub line: usize,
    /// The input sentence.
    pub source_text: String,
    /// Its translation.
    pub translation: String,
    /// The image's file name, relative to the gallery directory.
    pub image: String,
}

/// Writes `dir/index.html` (atomically) listing `entries` in the given order.
pub fn write_gallery(dir: &Path, entries: &[GalleryEntry]) -> Result<()> {
    write_atomic(&dir.join("index.html"), page(entries).as_bytes())
}

fn page(entries: &[GalleryEntry]) -> String {
    let mut html = String::from(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>Attention heatmaps</title>\n<style>\n",
        "body{font-family:\"DejaVu Sans\",sans-serif;margin:2em auto;max-width:70em;",
        "padding:0 1em;color:#222;background:#fff}\n",
        "section{border-top:1px solid #ddd;padding:1em 0}\n",
        "h2{font-size:1em;color:#777;margin:0 0 .4em}\n",
        "p{margin:.2em 0}\n.k{color:#777;display:inline-block;min-width:7em}\n",
        "img{display:block;margin-top:.6em;max-width:100%;height:auto}\n",
        "</style>\n</head>\n<body>\n<h1>Attention heatmaps</h1>\n",
    ));
    let _ = writeln!(html, "<p>{} sentences.</p>", entries.len());
    for e in entries {
        // `write!` into a String cannot fail.
        let _ = write!(
            html,
            concat!(
                "<section id=\"line-{line}\">\n<h2>line {line}</h2>\n",
                "<p><span class=\"k\">source</span>{src}</p>\n",
                "<p><span class=\"k\">translation</span>{tgt}</p>\n",
                "<a href=\"{url}\"><img src=\"{url}\" alt=\"attention heatmap of line {line}\" ",
                "loading=\"lazy\"></a>\n</section>\n",
            ),
            line = e.line,
            src = escape(&e.source_text),
            tgt = escape(&e.translation),
            url = escape(&url_path(&e.image)),
        );
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// HTML-escapes text for element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a relative file path for a URL, so names with spaces, `#`, `?` or `%` still
/// point at the file.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: &str, image: &str) -> GalleryEntry {
        GalleryEntry {
            line: 4,
            source_text: src.into(),
            translation: "la <b>voiture</b> & \"moi\"".into(),
            image: image.into(),
        }
    }

    #[test]
    fn text_is_html_escaped() {
        let html = page(&[entry("<script>alert(1)</script>", "0004.png")]);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("la &lt;b&gt;voiture&lt;/b&gt; &amp; &quot;moi&quot;"));
    }

    #[test]
    fn image_names_are_url_encoded() {
        let html = page(&[entry("x", "a b#1\"é.png")]);
        assert!(html.contains("src=\"a%20b%231%22%C3%A9.png\""), "{html}");
    }

    #[test]
    fn every_entry_is_listed_in_order_and_the_page_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = entry("first", "0000.png");
        a.line = 0;
        let b = entry("second", "0004.png");
        write_gallery(dir.path(), &[a, b]).unwrap();
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        let (i, j) = (html.find("first").unwrap(), html.find("second").unwrap());
        assert!(i < j);
        assert!(html.contains("<p>2 sentences.</p>"));
        assert!(html.contains("src=\"0000.png\"") && html.contains("id=\"line-4\""));
    }
}
