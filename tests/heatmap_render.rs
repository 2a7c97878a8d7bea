//! The attention heatmap renderer, checked on the written files: PNGs decoded, SVGs parsed.

use nmt::attention_json::{read_jsonl, AttentionRecord};
use nmt::error::Error;
use nmt::heatmap::{
    layout, layout_panels, render, render_panels, write_gallery, Format, GalleryEntry, Layout, Style, CAP,
};
use std::path::{Path, PathBuf};

/// The ends of viridis as matplotlib publishes them (`#fde725`, `#440154`), written out here rather
/// than taken from the library, so swapped or wrong colours fail.
const TOP: [u8; 3] = [0xfd, 0xe7, 0x25];
const BOTTOM: [u8; 3] = [0x44, 0x01, 0x54];

fn toks(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn record(source: Vec<String>, target: Vec<String>, weights: Vec<Vec<f32>>) -> AttentionRecord {
    AttentionRecord {
        line: 0,
        source_text: source.join(" "),
        translation: target.join(" "),
        source,
        target,
        weights,
        head_weights: None,
        alignment: None,
    }
}

fn uniform(n_src: usize, n_tgt: usize) -> AttentionRecord {
    let w = 1.0 / n_src.max(1) as f32;
    record(toks("s", n_src), toks("t", n_tgt), vec![vec![w; n_src]; n_tgt])
}

/// Row `i` puts all its weight on column `hot[i]`.
fn one_hot(n_src: usize, hot: &[usize]) -> Vec<Vec<f32>> {
    hot.iter().map(|&j| (0..n_src).map(|c| if c == j { 1.0 } else { 0.0 }).collect()).collect()
}

fn png(record: &AttentionRecord, style: &Style, dir: &Path, name: &str) -> image::RgbImage {
    let path = dir.join(name);
    render(record, style, &path).unwrap();
    decode(&path)
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

/// Share of the pixels of cell (row, col) that have exactly `colour`. The printed weight covers
/// part of a cell, so "the cell's colour" is what most of its pixels have.
fn share(img: &image::RgbImage, layout: &Layout, panel: usize, row: usize, col: usize, colour: [u8; 3]) -> f64 {
    let r = layout.cell_rect(panel, row, col).unwrap();
    assert!(r.w > 0 && r.h > 0);
    let mut hits = 0;
    for y in r.y..r.y + r.h as i32 {
        for x in r.x..r.x + r.w as i32 {
            if img.get_pixel(x as u32, y as u32).0 == colour {
                hits += 1;
            }
        }
    }
    f64::from(hits) / f64::from(r.w * r.h)
}

fn assert_one_hot_colours(img: &image::RgbImage, layout: &Layout, panel: usize, hot: &[usize], n_src: usize) {
    for (row, &h) in hot.iter().enumerate() {
        for col in 0..n_src {
            let want = if col == h { TOP } else { BOTTOM };
            let s = share(img, layout, panel, row, col, want);
            assert!(s > 0.6, "panel {panel} cell ({row},{col}): only {s:.2} of it is {want:?}");
        }
    }
}

fn svg_style() -> Style {
    Style { format: Format::Svg, ..Style::default() }
}

/// Parses an SVG file and returns the trimmed content of its `<text>` elements.
fn svg_texts(path: &Path) -> Vec<String> {
    let doc = std::fs::read_to_string(path).unwrap();
    let tree =
        roxmltree::Document::parse(&doc).unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    assert_eq!(tree.root_element().tag_name().name(), "svg");
    tree.descendants().filter(|n| n.has_tag_name("text")).map(|n| n.text().unwrap_or("").trim().to_string()).collect()
}

#[test]
fn image_size_grows_with_the_token_counts() {
    let dir = tempfile::tempdir().unwrap();
    let style = Style::default();
    let small = png(&uniform(3, 3), &style, dir.path(), "small.png");
    let wide = png(&uniform(30, 3), &style, dir.path(), "wide.png");
    let tall = png(&uniform(3, 30), &style, dir.path(), "tall.png");
    assert!(wide.width() > small.width() + 500, "{} vs {}", wide.width(), small.width());
    assert!(tall.height() > small.height() + 500, "{} vs {}", tall.height(), small.height());
    // A 3-token sentence gives a small picture, not a giant one.
    assert!(small.width() <= 600 && small.height() <= 600, "{:?}", small.dimensions());
}

#[test]
fn a_one_hot_row_colours_its_peak_as_the_top_of_the_map_and_the_rest_as_the_bottom() {
    let dir = tempfile::tempdir().unwrap();
    let style = Style::default();
    // Non-square and asymmetric, so a transposed or mirrored drawing fails too.
    let hot = [2, 0, 4];
    let r = record(toks("s", 5), toks("t", 3), one_hot(5, &hot));
    let img = png(&r, &style, dir.path(), "onehot.png");
    let lay = layout(&r, &style).unwrap();
    assert_eq!(img.dimensions(), (lay.width, lay.height));
    assert_one_hot_colours(&img, &lay, 0, &hot, 5);
}

#[test]
fn head_selects_that_heads_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = record(toks("s", 4), toks("t", 2), one_hot(4, &[0, 1]));
    r.head_weights = Some(vec![one_hot(4, &[3, 3]), one_hot(4, &[1, 2])]);
    let style = Style { head: Some(1), ..Style::default() };
    let img = png(&r, &style, dir.path(), "head.png");
    assert_one_hot_colours(&img, &layout(&r, &style).unwrap(), 0, &[1, 2], 4);
    let style = Style { head: Some(2), ..Style::default() };
    let err = render(&r, &style, &dir.path().join("no.png")).unwrap_err();
    assert!(err.to_string().contains("2 heads"), "{err}");
    assert!(!dir.path().join("no.png").exists());
}

#[test]
fn words_merge_pieces_into_fewer_cells() {
    let dir = tempfile::tempdir().unwrap();
    let source: Vec<String> = ["▁voit", "ure", "▁rouge", "</s>"].map(String::from).to_vec();
    let target: Vec<String> = ["▁red", "▁car", "</s>"].map(String::from).to_vec();
    // Each target word looks at one whole source word: the merged rows are one-hot again.
    let weights = vec![vec![0.0, 0.0, 1.0, 0.0], vec![0.5, 0.5, 0.0, 0.0], vec![0.0, 0.0, 0.0, 1.0]];
    let r = record(source, target, weights);
    let style = Style { words: true, ..Style::default() };
    let lay = layout(&r, &style).unwrap();
    assert!(lay.cell_rect(0, 0, 2).is_some());
    assert!(lay.cell_rect(0, 0, 3).is_none(), "4 pieces should merge to 3 words");
    let img = png(&r, &style, dir.path(), "words.png");
    assert_one_hot_colours(&img, &lay, 0, &[1, 0, 2], 3);
}

#[test]
fn every_edge_case_renders_a_valid_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, AttentionRecord)> = vec![
        ("empty translation", record(toks("s", 4), vec!["</s>".into()], vec![vec![0.25; 4]])),
        ("one-token source", record(vec!["</s>".into()], toks("t", 3), vec![vec![1.0]; 3])),
        ("120 tokens", uniform(120, 110)),
        (
            "all weight on one cell",
            record(toks("s", 6), toks("t", 6), {
                let mut w = vec![vec![0.0; 6]; 6];
                w[3][4] = 1.0;
                w
            }),
        ),
        ("zero target rows", record(toks("s", 3), vec![], vec![])),
        ("zero source tokens", record(vec![], toks("t", 2), vec![vec![], vec![]])),
        ("empty line", record(vec![], vec![], vec![])),
        (
            "NaN and out-of-range weights",
            record(
                toks("s", 3),
                toks("t", 2),
                vec![vec![f32::NAN, 1.5, -0.5], vec![f32::INFINITY, f32::NEG_INFINITY, 0.5]],
            ),
        ),
        (
            "odd tokens",
            record(
                vec![
                    "<unk>".into(),
                    "a&b".into(),
                    "\"q\"".into(),
                    "tab\there".into(),
                    "x".repeat(300),
                    "\u{1}".into(),
                    "".into(),
                ],
                vec!["</s>".into()],
                vec![vec![0.1; 7]],
            ),
        ),
    ];
    let mut long_text = uniform(2, 2);
    long_text.source_text = "word ".repeat(2000);
    long_text.translation = "mot".repeat(2000);
    cases.push(("very long title", long_text));

    for (i, (name, r)) in cases.iter().enumerate() {
        for words in [false, true] {
            let style = Style { words, ..Style::default() };
            let path = dir.path().join(format!("{i}-{words}.png"));
            render(r, &style, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let img = decode(&path);
            assert!(img.width() > 0 && img.height() > 0, "{name}");
            assert!(img.width() <= CAP && img.height() <= CAP, "{name}");
            let svg = dir.path().join(format!("{i}-{words}.svg"));
            render(r, &Style { format: Format::Svg, ..style.clone() }, &svg)
                .unwrap_or_else(|e| panic!("{name} (svg): {e}"));
            svg_texts(&svg);
        }
    }
}

#[test]
fn a_thousand_token_line_stays_within_the_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let r = uniform(1000, 1000);
    let img = png(&r, &Style::default(), dir.path(), "big.png");
    assert!(img.width() <= CAP && img.height() <= CAP, "{:?}", img.dimensions());
    assert!(img.width() >= CAP / 2 && img.height() >= CAP / 2, "{:?}", img.dimensions());
    // Same picture as SVG: equal neighbouring cells are merged, so the file stays reasonable.
    let svg = dir.path().join("big.svg");
    render(&r, &svg_style(), &svg).unwrap();
    let size = std::fs::metadata(&svg).unwrap().len();
    assert!(size < 5_000_000, "{size} bytes");
}

#[test]
fn svg_is_well_formed_xml_with_every_label_and_accents_intact() {
    let dir = tempfile::tempdir().unwrap();
    let source: Vec<String> =
        ["la", "crème", "brûlée", "&", "<unk>", "œuvre", "Straße", "über", "façade", "</s>"].map(String::from).to_vec();
    let target: Vec<String> = ["the", "<b>", "&amp;", "\"cream\"", "it's", "</s>"].map(String::from).to_vec();
    let n = source.len();
    let mut r = record(source.clone(), target.clone(), vec![vec![1.0 / n as f32; n]; target.len()]);
    r.source_text = "la crème brûlée & œuvre Straße über façade".into();
    r.translation = "the <b> &amp; \"cream\" it's".into();
    let path = dir.path().join("labels.svg");
    render(&r, &svg_style(), &path).unwrap();
    let texts = svg_texts(&path);
    for label in source.iter().chain(&target) {
        assert!(texts.contains(label), "label {label:?} missing from {texts:?}");
    }
    // The title may be wrapped over several lines; every word of it must be there.
    let all = texts.join(" ");
    for word in r.source_text.split(' ').chain(r.translation.split(' ')) {
        assert!(all.contains(word), "title word {word:?} missing from {texts:?}");
    }
}

fn write_lines(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("attn.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn read_jsonl_rejects_bad_shapes_and_bad_json_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = uniform(3, 2).to_json_line();
    let mut bad_shape = uniform(3, 2);
    bad_shape.weights[1].push(0.0);
    let mut bad_heads = uniform(3, 2);
    bad_heads.head_weights = Some(vec![vec![vec![0.5; 3]]]);
    let cases = [
        (bad_shape.to_json_line(), "weights row 1"),
        (bad_heads.to_json_line(), "head_weights[0]"),
        ("{\"line\": 0, \"source\": [".to_string(), "invalid attention record"),
        ("{\"line\": 0}".to_string(), "missing field"),
    ];
    for (bad, expected) in cases {
        // Line 2 is blank and skipped; the bad record is on line 4.
        let path = write_lines(dir.path(), &[good.clone(), String::new(), good.clone(), bad]);
        let err = read_jsonl(&path).unwrap_err();
        match &err {
            Error::Data { path: p, line, msg } => {
                assert_eq!((p.as_path(), *line), (path.as_path(), 4), "{err}");
                assert!(msg.contains(expected), "{msg}");
            }
            other => panic!("expected a data error, got {other}"),
        }
        assert!(err.to_string().starts_with(&format!("{}:4: ", path.display())), "{err}");
    }
    let path = write_lines(dir.path(), &[good.clone(), good]);
    assert_eq!(read_jsonl(&path).unwrap().len(), 2);
}

#[test]
fn read_jsonl_refuses_an_overlong_line_instead_of_buffering_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jsonl");
    let line = vec![b' '; nmt::attention_json::MAX_LINE_BYTES + 10];
    std::fs::write(&path, line).unwrap();
    let err = read_jsonl(&path).unwrap_err().to_string();
    assert!(err.contains(":1: line longer than"), "{err}");
}

#[test]
fn a_record_read_back_from_json_renders_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 7;
    // Weights with long decimal expansions, a NaN and per-head weights: all must survive JSON.
    let weights: Vec<Vec<f32>> =
        (0..5).map(|i| (0..n).map(|j| ((i * n + j) as f32 * 0.137).sin().abs() / 3.0).collect()).collect();
    let mut r = record(toks("▁s", n), toks("▁t", 5), weights.clone());
    r.line = 12;
    r.source_text = "crème brûlée".into();
    r.weights[1][2] = f32::NAN;
    r.head_weights = Some(vec![weights.clone(), weights]);
    let path = write_lines(dir.path(), &[uniform(2, 2).to_json_line(), r.to_json_line()]);
    let back = read_jsonl(&path).unwrap().remove(1);
    assert_eq!(back.to_json_line(), r.to_json_line());
    for (k, style) in
        [Style::default(), Style { words: true, head: Some(1), ..Style::default() }, svg_style()].iter().enumerate()
    {
        let (a, b) = (dir.path().join(format!("a{k}")), dir.path().join(format!("b{k}")));
        render(&r, style, &a).unwrap();
        render(&back, style, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "style {k}");
    }
}

#[test]
fn panels_sit_side_by_side_each_with_its_own_cells() {
    let dir = tempfile::tempdir().unwrap();
    let style = Style::default();
    let a = record(toks("s", 4), toks("t", 3), one_hot(4, &[0, 1, 2]));
    let b = record(toks("s", 4), toks("u", 4), one_hot(4, &[3, 2, 1, 0]));
    let panels = vec![
        ("bahdanau attention · bahdanau decoder".to_string(), a.clone()),
        ("luong-general attention · luong decoder".to_string(), b),
        ("empty".to_string(), record(vec![], vec![], vec![])),
    ];
    let path = dir.path().join("panels.png");
    render_panels(&panels, &style, &path).unwrap();
    let img = decode(&path);
    let lay = layout_panels(&panels, &style).unwrap();
    assert_eq!(img.dimensions(), (lay.width, lay.height));
    assert_one_hot_colours(&img, &lay, 0, &[0, 1, 2], 4);
    assert_one_hot_colours(&img, &lay, 1, &[3, 2, 1, 0], 4);
    let (first, second) = (lay.cell_rect(0, 0, 3).unwrap(), lay.cell_rect(1, 0, 0).unwrap());
    assert!(second.x > first.x + first.w as i32, "panels overlap");
    assert!(lay.cell_rect(2, 0, 0).is_none());
    let single = layout(&a, &style).unwrap();
    assert!(lay.width > single.width);

    let svg = dir.path().join("panels.svg");
    render_panels(&panels, &svg_style(), &svg).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t.contains("luong-general attention")), "{texts:?}");
}

#[test]
fn gallery_lists_every_rendered_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for line in 0..3 {
        let mut r = uniform(3, 2);
        r.line = line;
        r.source_text = format!("sentence <{line}> & more");
        let image = format!("{line:04}.png");
        render(&r, &Style::default(), &dir.path().join(&image)).unwrap();
        entries.push(GalleryEntry {
            line,
            source_text: r.source_text.clone(),
            translation: r.translation.clone(),
            image,
        });
    }
    write_gallery(dir.path(), &entries).unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    for e in &entries {
        assert!(html.contains(&format!("src=\"{}\"", e.image)));
        assert!(dir.path().join(&e.image).exists());
    }
    assert!(html.contains("sentence &lt;2&gt; &amp; more"));
    assert!(!html.contains("<2>"));
}

#[test]
fn format_follows_the_file_extension() {
    assert_eq!(Format::from_path(Path::new("x/heat.svg")), Some(Format::Svg));
    assert_eq!(Format::from_path(Path::new("x/heat.png")), Some(Format::Png));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.png");
    render(&uniform(2, 2), &Style::default(), &path).unwrap();
    assert_eq!(&std::fs::read(&path).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
}
