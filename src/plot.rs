//! The learning-curve picture `loss.png`: training loss and dev loss by step, dev BLEU on a second axis.

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::metrics_log::Record;
use crate::render::{encode_png, DEJAVU_SANS};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

const SIZE: (u32, u32) = (900, 500);
const FAMILY: &str = "nmt-dejavu-sans";

/// Draws `records` into `out` (PNG, written atomically). Nothing is drawn before the first record.
pub fn learning_curve(records: &[Record], out: &Path) -> Result<()> {
    let train: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Train { step, loss, .. } => Some((*step as f64, *loss)),
            _ => None,
        })
        .collect();
    let valid: Vec<(f64, f64, f64)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Valid { step, dev_loss, dev_bleu, .. } => Some((*step as f64, *dev_loss, *dev_bleu)),
            _ => None,
        })
        .collect();
    if train.is_empty() && valid.is_empty() {
        return Ok(());
    }
    let fail = |e: String| Error::Render { path: out.to_path_buf(), msg: e };
    let mut rgb = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    draw(&mut rgb, &train, &valid).map_err(fail)?;
    write_atomic(out, &encode_png(&rgb, SIZE.0, SIZE.1).map_err(fail)?)
}

fn draw(rgb: &mut [u8], train: &[(f64, f64)], valid: &[(f64, f64, f64)]) -> std::result::Result<(), String> {
    // Axis labels are drawn by plotters itself, which needs the font in its own registry.
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let _ = register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS);
    });
    let family = FAMILY;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let area = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let steps = train.iter().map(|p| p.0).chain(valid.iter().map(|p| p.0));
    let max_step = steps.fold(1.0f64, f64::max);
    let losses = train.iter().map(|p| p.1).chain(valid.iter().map(|p| p.1)).filter(|x| x.is_finite());
    let max_loss = losses.fold(0.1f64, f64::max) * 1.05;
    let max_bleu = valid.iter().map(|p| p.2).fold(1.0f64, f64::max).min(100.0) * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .caption("learning curve", (family, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .right_y_label_area_size(55)
        .build_cartesian_2d(0f64..max_step, 0f64..max_loss)
        .map_err(|e| err(&e))?
        .set_secondary_coord(0f64..max_step, 0f64..max_bleu);
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss (nats/token)")
        .label_style((family, 13))
        .draw()
        .map_err(|e| err(&e))?;
    chart.configure_secondary_axes().y_desc("dev BLEU").label_style((family, 13)).draw().map_err(|e| err(&e))?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    let green = RGBColor(44, 160, 44);
    chart
        .draw_series(LineSeries::new(train.iter().copied(), blue.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("train loss")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue));
    chart
        .draw_series(LineSeries::new(valid.iter().map(|p| (p.0, p.1)), orange.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("dev loss")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange));
    chart
        .draw_secondary_series(LineSeries::new(valid.iter().map(|p| (p.0, p.2)), green.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("dev BLEU (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], green));
    chart
        .configure_series_labels()
        .label_font((family, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    area.present().map_err(|e| err(&e))
}
