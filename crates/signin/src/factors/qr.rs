//! QR codes for TOTP enrolment, rendered on the server as SVG (no script, no external image).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::MfaError;

/// An SVG image of `data`, with a quiet zone, at least 200 px wide.
pub fn svg(data: &str) -> Result<String, MfaError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| MfaError::Qr(e.to_string()))?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg_document() {
        let image = super::svg("otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(image.starts_with("<?xml") || image.starts_with("<svg"));
        assert!(image.contains("<svg") && image.contains("</svg>"));
    }
}
