//! The pieces every picture shares: the embedded font (DejaVu Sans, so that drawing needs no system
//! fonts) and PNG encoding. Used by the attention heatmaps and the learning curve.

/// DejaVu Sans (Latin with accents, Greek, Cyrillic); its licence is beside it in `src/fonts/`.
pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// rgb: `w·h·3` bytes → PNG bytes (in memory, so the caller can write the file atomically).
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}
