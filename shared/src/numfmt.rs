//! Numbers as people read them in tables and reports: errors with three significant digits ("9.96e-4"), ratios as
//! grouped integers ("1,755x") or three significant digits below 100 ("45.9x", "1.09x").
//!
//! Machine-readable outputs (CSV, JSON) keep full precision; these forms are for text meant to be read.

/// An error with three significant digits in scientific form ("9.96e-4"); exactly 0 reads "0", and a non-finite
/// value its word ("NaN", "inf", "-inf").
pub fn error(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    format!("{v:.2e}")
}

/// [`error`] or a dash for a missing value.
pub fn error_or_dash(v: Option<f64>) -> String {
    v.map_or("–".into(), error)
}

/// A ratio with a trailing "x": at least 100 rounds to a whole number with thousands separators ("1,755x");
/// below 100 it keeps three significant digits ("45.9x", "1.09x", "0.123x"). Beyond 1e15, where a grouped
/// integer stops being readable (and exact), it falls back to "1.23e16x". A non-finite ratio is the bare word,
/// since "NaNx" reads as a typo.
pub fn ratio(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    if a >= 1e15 {
        return format!("{x:.2e}x");
    }
    if a == 0.0 {
        return "0x".into();
    }
    // Round to three significant digits first, so that a carry (99.96 -> 100) picks the next range's form.
    let scale = 10f64.powi(2 - a.log10().floor() as i32);
    let r = (a * scale).round() / scale;
    if r >= 100.0 {
        return format!("{sign}{}x", grouped(a.round() as u64));
    }
    let digits = (2 - r.log10().floor() as i32).max(0) as usize;
    format!("{sign}{r:.digits$}x")
}

/// An integer with comma thousands separators ("1,755", "12,345,678").
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_three_significant_digits() {
        assert_eq!(error(9.956e-4), "9.96e-4");
        assert_eq!(error(1.142e-8), "1.14e-8");
        assert_eq!(error(2.398), "2.40e0");
        assert_eq!(error(0.0), "0");
        assert_eq!(error(f64::NAN), "NaN");
        assert_eq!(error(f64::INFINITY), "inf");
        assert_eq!(error_or_dash(None), "–");
    }

    #[test]
    fn ratios_read_as_grouped_integers_or_three_digits() {
        assert_eq!(ratio(1755.2), "1,755x");
        assert_eq!(ratio(459.4), "459x");
        assert_eq!(ratio(100.0), "100x");
        assert_eq!(ratio(1_234_567.0), "1,234,567x");
        assert_eq!(ratio(45.93), "45.9x");
        assert_eq!(ratio(1.0868), "1.09x");
        assert_eq!(ratio(0.12345), "0.123x");
        assert_eq!(ratio(99.96), "100x");
        assert_eq!(ratio(9.996), "10.0x");
        assert_eq!(ratio(0.0), "0x");
        assert_eq!(ratio(2.5e16), "2.50e16x");
        assert_eq!(ratio(f64::NAN), "NaN");
        assert_eq!(ratio(f64::INFINITY), "inf");
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }
}
