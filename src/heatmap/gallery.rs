//! The gallery page: one self-contained `index.html` listing every sentence of a test set with its
//! translation and its heatmap, so a person can scroll through them; the images' names, by which a
//! gallery written before into the same directory is recognised and cleared.

use super::Format;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// The gallery's page.
pub const GALLERY_PAGE: &str = "index.html";

/// The image of 0-based input line `line`: the 1-based line number with at least four digits, e.g.
/// `0007.png`.
pub fn image_name(line: usize, format: Format) -> String {
    format!("{:04}.{}", line + 1, format.extension())
}

/// Whether `name` is one of the files a gallery is made of: [`GALLERY_PAGE`] or an image named as
/// [`image_name`] names them (four or more digits, `.png` or `.svg`).
fn is_gallery_file(name: &str) -> bool {
    let image = |ext: &str| {
        name.strip_suffix(ext).is_some_and(|digits| digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
    };
    name == GALLERY_PAGE || image(".png") || image(".svg")
}

/// Removes the gallery a previous run wrote into `dir` — its page and its images, recognised by their
/// names (`is_gallery_file`) — so that images of lines the new gallery lacks do not linger. Every
/// other file is left alone. → how many files were removed.
pub fn clear_gallery(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let is_file = entry.file_type().map_err(|e| Error::io(entry.path(), e))?.is_file();
        if is_file && is_gallery_file(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

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
    write_atomic(&dir.join(GALLERY_PAGE), page(entries).as_bytes())
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
    fn clearing_removes_the_page_and_the_numbered_images_only() {
        let dir = tempfile::tempdir().unwrap();
        let ours = [GALLERY_PAGE, "0001.png", "0012.svg", "12345.png", &image_name(41, Format::Svg)];
        let theirs = ["001.png", "0001.jpg", "notes.html", "a0001.png", "0001.png.bak", "index.htm"];
        for name in ours.iter().chain(&theirs) {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("0002.png")).unwrap();
        assert_eq!(clear_gallery(dir.path()).unwrap(), ours.len());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        let mut expected: Vec<String> = theirs.iter().chain(&["0002.png"]).map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(image_name(41, Format::Svg), "0042.svg");
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
