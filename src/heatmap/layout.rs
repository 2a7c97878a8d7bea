//! Geometry of a heatmap picture, decided before anything is drawn: where the title lines, the
//! panels, their token labels and cells, and the colour bar go, and how big the image is.
//!
//! Size follows the content: cells are [`CELL`] px while that fits, so a 3-token sentence gives a
//! small image and a 60-token one a legible large one; past [`CAP`] px a side the cells shrink
//! instead of the image growing. Margins are sized to the longest label.

use super::font::Font;

/// Natural side of a cell, px.
pub const CELL: u32 = 32;
/// Largest image side the matrix is allowed to push the picture to, px.
pub const CAP: u32 = 4000;

/// Outer margin.
const PAD: i32 = 18;
/// Font sizes, px per em.
const HEADER_SIZE: f64 = 15.0;
const PANEL_TITLE_SIZE: f64 = 15.0;
pub(crate) const LABEL_SIZE: f64 = 14.0;
pub(crate) const VALUE_SIZE: f64 = 11.0;
pub(crate) const TICK_SIZE: f64 = 12.0;
/// Height of one line of header or panel-title text.
const LINE_H: i32 = 23;
/// Lines a header item or panel title may wrap to before it is cut with "…".
const MAX_LINES: usize = 3;
/// Space between a label and the grid edge.
pub(crate) const LABEL_GAP: i32 = 7;
/// Labels are cut to this many characters (with "…"), so one odd token cannot eat the picture.
const MAX_LABEL_CHARS: usize = 30;
/// Smallest distance between two drawn labels; denser axes label every k-th token.
const LABEL_PITCH: f64 = 17.0;
/// Weights are printed in the cells only when both sides have at most this many tokens...
const MAX_VALUE_TOKENS: usize = 25;
/// ...and the cells are at least this big.
const MIN_VALUE_CELL: (f64, f64) = (28.0, 20.0);
/// Space between panels.
const PANEL_GAP: i32 = 48;
/// A panel is widened for its title up to this width, so the title is not wrapped into a column.
const MAX_TITLE_W: i32 = 440;
/// The whole picture is at least this wide, so the header reads as sentences...
const MIN_WIDTH: i32 = 420;
/// ...and is widened up to this for a header that would otherwise wrap.
const MAX_HEADER_W: i32 = 800;
/// Colour bar: gap from the grid, width, tick length, gap before the tick labels.
const BAR_GAP: i32 = 26;
const BAR_W: i32 = 18;
pub(crate) const TICK_LEN: i32 = 5;
pub(crate) const TICK_GAP: i32 = 4;
/// The colour bar follows the grid height within these bounds.
const BAR_H: (i32, i32) = (120, 400);
/// Tick values of the colour bar.
pub(crate) const TICKS: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
/// Box drawn in place of the grid when a side has no tokens.
const EMPTY_BOX: (i32, i32) = (220, 64);

/// A piece of title text: an optional key ("source:"), drawn muted, and a value wrapped to its
/// right. The values of a block of items start in one column.
pub(crate) struct Item {
    pub key: Option<String>,
    pub value: String,
}

/// What one panel shows: title items over a matrix with its labels.
pub(crate) struct PanelInput {
    pub title: Vec<Item>,
    pub source: Vec<String>,
    pub target: Vec<String>,
    pub weights: Vec<Vec<f32>>,
    /// Cells to frame (row, column): the word alignment's.
    pub marks: Vec<(usize, usize)>,
}

/// A line of text: `(x, y)` is its left end at the vertical centre of the line.
pub(crate) struct TextLine {
    pub text: String,
    pub x: i32,
    pub y: i32,
    pub size: f64,
    /// Keys are drawn in a lighter colour than the text they introduce.
    pub muted: bool,
}

/// A token label: the token index it belongs to and the text drawn.
pub(crate) struct Label {
    pub index: usize,
    pub text: String,
}

/// Cell boundaries of a grid: column `j` spans `cols[j]..cols[j + 1]`, row `i` spans
/// `rows[i]..rows[i + 1]` (end-exclusive, image pixels).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub cols: Vec<i32>,
    pub rows: Vec<i32>,
}

impl Grid {
    fn new(x: i32, y: i32, w: i32, h: i32, n_cols: usize, n_rows: usize) -> Grid {
        // Edges at floor(i * w / n): exact multiples of the cell size while cells are whole
        // pixels, and still a partition of the available width when they are not.
        let edges = |start: i32, len: i32, n: usize| -> Vec<i32> {
            (0..=n).map(|i| start + (i as i64 * len as i64 / n.max(1) as i64) as i32).collect()
        };
        Grid { cols: edges(x, w, n_cols), rows: edges(y, h, n_rows) }
    }

    /// Left edge of the grid.
    pub fn left(&self) -> i32 {
        self.cols[0]
    }
    /// Top edge of the grid.
    pub fn top(&self) -> i32 {
        self.rows[0]
    }
    /// Bottom edge of the grid (exclusive).
    pub fn bottom(&self) -> i32 {
        self.rows[self.rows.len() - 1]
    }
    /// Centre of column `j`.
    pub fn col_mid(&self, j: usize) -> i32 {
        (self.cols[j] + self.cols[j + 1]) / 2
    }
    /// Centre of row `i`.
    pub fn row_mid(&self, i: usize) -> i32 {
        (self.rows[i] + self.rows[i + 1]) / 2
    }
}

/// One panel, placed.
pub(crate) struct PanelPlan {
    pub title: Vec<TextLine>,
    pub x_labels: Vec<Label>,
    pub y_labels: Vec<Label>,
    pub grid: Grid,
    pub weights: Vec<Vec<f32>>,
    /// Cells to frame (row, column).
    pub marks: Vec<(usize, usize)>,
    /// Whether each cell gets its weight printed.
    pub values: bool,
    /// Set when a side has no tokens: the grid is then this box with the message inside.
    pub empty: Option<(String, [i32; 4])>,
}

/// The colour bar: a vertical strip from 0 (bottom) to 1 (top).
pub(crate) struct Bar {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// The whole picture, placed.
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    pub header: Vec<TextLine>,
    pub panels: Vec<PanelPlan>,
    pub bar: Bar,
}

/// Width in whole px of `text` at `size`.
pub(crate) fn text_width(font: &Font, size: f64, text: &str) -> i32 {
    font.width(size, text).ceil() as i32
}

/// Text made safe to draw: control characters (which SVG/XML cannot carry) shown escaped.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let shown: Vec<char> = if c.is_control() { c.escape_debug().collect() } else { vec![c] };
            shown
        })
        .collect()
}

fn label_text(token: &str) -> String {
    let t = printable(token);
    if t.chars().count() > MAX_LABEL_CHARS {
        let mut cut: String = t.chars().take(MAX_LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        t
    }
}

/// Greedy word wrap of `text` into lines no wider than `max_w`, at most [`MAX_LINES`]; a word
/// wider than a line is broken between characters, and text that does not fit ends with "…".
pub(crate) fn wrap(font: &Font, size: f64, text: &str, max_w: i32) -> Vec<String> {
    let fits = |s: &str| text_width(font, size, s) <= max_w;
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in printable(text).split_whitespace() {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if fits(&candidate) {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        for c in word.chars() {
            current.push(c);
            if !fits(&current) && current.chars().count() > 1 {
                current.pop();
                lines.push(std::mem::replace(&mut current, c.to_string()));
            }
        }
        if lines.len() > MAX_LINES {
            break;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        if let Some(last) = lines.last_mut() {
            last.push('…');
            while !fits(last) && last.chars().count() > 1 {
                last.pop();
                last.pop();
                last.push('…');
            }
        }
    }
    lines
}

/// Every `stride`-th label, with the stride chosen so that drawn labels are at least
/// [`LABEL_PITCH`] apart when cells are `pitch` px.
fn labels(tokens: &[String], pitch: f64) -> Vec<Label> {
    let stride = if pitch >= LABEL_PITCH { 1 } else { (LABEL_PITCH / pitch.max(1e-3)).ceil() as usize };
    tokens.iter().enumerate().step_by(stride).map(|(index, t)| Label { index, text: label_text(t) }).collect()
}

/// Lays `items` out from `(x, top)` in a block `width` px wide: keys in a column on the left,
/// values wrapped to their right. Returns the lines and the number of rows used.
fn place(font: &Font, size: f64, items: &[Item], (x, top): (i32, i32), width: i32) -> (Vec<TextLine>, i32) {
    let key_w = key_width(font, size, items);
    let mut lines = Vec::new();
    let mut row = 0;
    for item in items {
        let y = |row: i32| top + row * LINE_H + LINE_H / 2;
        let indent = if item.key.is_some() { key_w } else { 0 };
        if let Some(key) = &item.key {
            lines.push(TextLine { text: key.clone(), x, y: y(row), size, muted: true });
        }
        let wrapped = wrap(font, size, &item.value, width - indent);
        // An empty value still takes its row, next to its key.
        let rows = wrapped.len().max(1) as i32;
        for (i, text) in wrapped.into_iter().enumerate() {
            lines.push(TextLine { text, x: x + indent, y: y(row + i as i32), size, muted: false });
        }
        row += rows;
    }
    (lines, row)
}

/// Width of the key column of `items`, gap included.
fn key_width(font: &Font, size: f64, items: &[Item]) -> i32 {
    items
        .iter()
        .filter_map(|i| i.key.as_deref())
        .map(|k| text_width(font, size, k) + (size * 0.4) as i32)
        .max()
        .unwrap_or(0)
}

/// Width `items` would take unwrapped.
fn unwrapped_width(font: &Font, size: f64, items: &[Item]) -> i32 {
    let values = items.iter().map(|i| text_width(font, size, &printable(&i.value))).max().unwrap_or(0);
    key_width(font, size, items) + values
}

fn widest(font: &Font, size: f64, texts: &[String]) -> i32 {
    texts.iter().map(|t| text_width(font, size, &label_text(t))).max().unwrap_or(0)
}

/// What an empty panel says instead of showing a matrix; `None` when there is a matrix.
fn empty_message(p: &PanelInput) -> Option<String> {
    let side = match (p.source.is_empty(), p.target.is_empty()) {
        (false, false) => return None,
        (true, true) => "empty line",
        (true, false) => "no source tokens",
        (false, true) => "no output tokens",
    };
    Some(format!("no attention weights ({side})"))
}

/// Horizontal space the colour bar and its tick labels take, gap included.
fn bar_block(font: &Font) -> i32 {
    BAR_GAP + BAR_W + TICK_LEN + TICK_GAP + text_width(font, TICK_SIZE, "0.0")
}

/// Plans a picture with `header` items above `panels` side by side.
pub(crate) fn plan(font: &Font, header: &[Item], panels: &[PanelInput]) -> Plan {
    let n = panels.len().max(1) as i32;
    // Widths first: they do not depend on the header, whose wrapping depends on them.
    let y_label_w: Vec<i32> = panels.iter().map(|p| widest(font, LABEL_SIZE, &p.target)).collect();
    let x_label_h = panels.iter().map(|p| widest(font, LABEL_SIZE, &p.source)).max().unwrap_or(0);
    let fixed_w = 2 * PAD + (n - 1) * PANEL_GAP + bar_block(font) + y_label_w.iter().sum::<i32>() + n * LABEL_GAP;
    let grid_w_avail = ((CAP as i32 - fixed_w) / n).max(100);
    let grid_w: Vec<i32> = panels
        .iter()
        .map(|p| match empty_message(p) {
            Some(msg) => EMPTY_BOX.0.max(text_width(font, LABEL_SIZE, &msg) + 32),
            None => (p.source.len() as i64 * CELL as i64).min(grid_w_avail as i64) as i32,
        })
        .collect();
    let panel_w: Vec<i32> = panels
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let title_w = unwrapped_width(font, PANEL_TITLE_SIZE, &p.title);
            (y_label_w[k] + LABEL_GAP + grid_w[k]).max(title_w.min(MAX_TITLE_W))
        })
        .collect();
    let content_w = 2 * PAD + panel_w.iter().sum::<i32>() + (n - 1) * PANEL_GAP + bar_block(font);
    let header_w = unwrapped_width(font, HEADER_SIZE, header) + 2 * PAD;
    let width = content_w.max(MIN_WIDTH).max(header_w.min(MAX_HEADER_W));

    // Header, wrapped to the picture's width.
    let (header_lines, rows) = place(font, HEADER_SIZE, header, (PAD, PAD), width - 2 * PAD);
    let mut y = PAD + rows * LINE_H + 10;

    // Panel titles, each wrapped to its panel; grids start below the tallest title block.
    let mut titles = Vec::new();
    let mut x = PAD;
    let mut title_rows = 0;
    for (k, p) in panels.iter().enumerate() {
        let (lines, rows) = place(font, PANEL_TITLE_SIZE, &p.title, (x, y), panel_w[k]);
        titles.push(lines);
        title_rows = title_rows.max(rows);
        x += panel_w[k] + PANEL_GAP;
    }
    if title_rows > 0 {
        y += title_rows * LINE_H + 10;
    }
    let grid_top = y + x_label_h + LABEL_GAP;
    let grid_h_avail = (CAP as i32 - grid_top - PAD).max(100);

    let mut plans = Vec::new();
    let mut x = PAD;
    let mut max_bottom = grid_top;
    for ((k, p), title) in panels.iter().enumerate().zip(titles) {
        let grid_x = x + y_label_w[k] + LABEL_GAP;
        let plan = if let Some(msg) = empty_message(p) {
            let grid = Grid::new(grid_x, grid_top, 0, 0, 0, 0);
            PanelPlan {
                title,
                x_labels: Vec::new(),
                y_labels: Vec::new(),
                grid,
                weights: Vec::new(),
                marks: Vec::new(),
                values: false,
                empty: Some((msg, [grid_x, grid_top, grid_x + grid_w[k], grid_top + EMPTY_BOX.1])),
            }
        } else {
            let grid_h = (p.target.len() as i64 * CELL as i64).min(grid_h_avail as i64) as i32;
            let grid = Grid::new(grid_x, grid_top, grid_w[k], grid_h, p.source.len(), p.target.len());
            let pitch_x = f64::from(grid_w[k]) / p.source.len() as f64;
            let pitch_y = f64::from(grid_h) / p.target.len() as f64;
            PanelPlan {
                title,
                x_labels: labels(&p.source, pitch_x),
                y_labels: labels(&p.target, pitch_y),
                grid,
                weights: p.weights.clone(),
                marks: p.marks.clone(),
                values: p.source.len() <= MAX_VALUE_TOKENS
                    && p.target.len() <= MAX_VALUE_TOKENS
                    && pitch_x >= MIN_VALUE_CELL.0
                    && pitch_y >= MIN_VALUE_CELL.1,
                empty: None,
            }
        };
        let bottom = match &plan.empty {
            Some((_, rect)) => rect[3],
            None => plan.grid.bottom(),
        };
        max_bottom = max_bottom.max(bottom);
        plans.push(plan);
        x += panel_w[k] + PANEL_GAP;
    }

    let bar_h = (max_bottom - grid_top).clamp(BAR_H.0, BAR_H.1);
    let bar =
        Bar { x: PAD + panel_w.iter().sum::<i32>() + (n - 1) * PANEL_GAP + BAR_GAP, y: grid_top, w: BAR_W, h: bar_h };
    // The bottom tick label hangs half a line below the bar.
    let height = max_bottom.max(grid_top + bar_h + LINE_H / 2) + PAD;
    Plan { width: width as u32, height: height as u32, header: header_lines, panels: plans, bar }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(n_src: usize, n_tgt: usize) -> PanelInput {
        PanelInput {
            title: Vec::new(),
            source: (0..n_src).map(|i| format!("s{i}")).collect(),
            target: (0..n_tgt).map(|i| format!("t{i}")).collect(),
            weights: vec![vec![0.0; n_src]; n_tgt],
            marks: Vec::new(),
        }
    }

    #[test]
    fn grid_edges_partition_the_grid_exactly() {
        let g = Grid::new(10, 20, 100, 64, 3, 2);
        assert_eq!(g.cols, [10, 43, 76, 110]);
        assert_eq!(g.rows, [20, 52, 84]);
    }

    #[test]
    fn cells_keep_their_natural_size_until_the_cap() {
        let font = Font::embedded();
        let header = [Item { key: Some("source:".into()), value: "t".into() }];
        let p = plan(&font, &header, &[input(10, 4)]);
        let g = &p.panels[0].grid;
        assert_eq!(g.cols[10] - g.left(), 10 * CELL as i32);
        assert_eq!(g.bottom() - g.top(), 4 * CELL as i32);
        assert!(p.panels[0].values);
        let big = plan(&font, &header, &[input(1000, 1000)]);
        assert!(big.width <= CAP && big.height <= CAP);
        assert!(!big.panels[0].values);
        // Dense axes label every k-th token only.
        assert!(big.panels[0].x_labels.len() < 1000);
    }

    #[test]
    fn long_text_wraps_and_is_cut_after_the_last_allowed_line() {
        let font = Font::embedded();
        let text = "word ".repeat(400);
        let lines = wrap(&font, HEADER_SIZE, &text, 300);
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines.iter().all(|l| text_width(&font, HEADER_SIZE, l) <= 300));
        assert!(lines[MAX_LINES - 1].ends_with('…'));
        let long_word = "x".repeat(500);
        assert_eq!(wrap(&font, HEADER_SIZE, &long_word, 200).len(), MAX_LINES);
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("a\nb\u{1}"), "a\\nb\\u{1}");
        assert_eq!(label_text(&"é".repeat(40)).chars().count(), MAX_LABEL_CHARS);
    }
}
