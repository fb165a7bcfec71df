//! Field checks shared by the request validators. Every refusal is an `InvalidArgument`
//! whose message names the field (as the producer wrote it, e.g. `layout.grid.input_ids[2]`)
//! and the bound it broke. Pure functions, no IO.

use tonic::Status;

/// Longest id, bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest label, bytes.
pub const MAX_LABEL_LEN: usize = 256;

/// An `InvalidArgument` status naming `field`.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

/// Ids: 1..=128 bytes of ASCII letters, digits, '-', '_' and '.'.
pub fn id(field: &str, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(invalid(
            field,
            format!("is {} bytes; at most {MAX_ID_LEN} allowed", value.len()),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid(
            field,
            format!("contains {c:?}; only ASCII letters, digits, '-', '_' and '.' are allowed"),
        ));
    }
    Ok(())
}

/// Free text: 0..=`max` bytes without control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Status> {
    compositor_core::outputs::check::text(field, value, max)
        .map_err(|e| Status::invalid_argument(e.0))
}

/// An integer in `lo..=hi`.
pub fn range_u32(field: &str, value: u32, lo: u32, hi: u32) -> Result<u32, Status> {
    if !(lo..=hi).contains(&value) {
        return Err(invalid(
            field,
            format!("{value} is out of range {lo}..={hi}"),
        ));
    }
    Ok(value)
}

/// A finite float in `lo..=hi`.
pub fn range_f32(field: &str, value: f32, lo: f32, hi: f32) -> Result<f32, Status> {
    if !value.is_finite() {
        return Err(invalid(field, "must be a finite number"));
    }
    if !(lo..=hi).contains(&value) {
        return Err(invalid(
            field,
            format!("{value} is out of range {lo}..={hi}"),
        ));
    }
    Ok(value)
}

/// A colour component 0..=255.
pub fn byte(field: &str, value: u32) -> Result<u8, Status> {
    u8::try_from(value).map_err(|_| invalid(field, format!("{value} is out of range 0..=255")))
}

/// `value` or `default` when zero.
pub fn or(value: u32, default: u32) -> u32 {
    if value == 0 { default } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_field_and_bound() {
        assert!(id("input_id", "host-1.a_b").is_ok());
        let e = id("input_id", "").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "input_id: must not be empty");
        let e = id("input_id", &"x".repeat(129)).unwrap_err();
        assert!(e.message().contains("at most 128"), "{}", e.message());
        assert!(id("input_id", "a/b").is_err());
        assert!(id("input_id", "a b").is_err());
    }

    #[test]
    fn floats_refuse_nan_and_out_of_range() {
        assert_eq!(
            range_f32("v", f32::NAN, 0.0, 1.0).unwrap_err().message(),
            "v: must be a finite number"
        );
        assert!(range_f32("v", 1.5, 0.0, 1.0).is_err());
        assert_eq!(range_f32("v", 0.5, 0.0, 1.0).unwrap(), 0.5);
        assert!(byte("c.r", 256).is_err());
        assert_eq!(byte("c.r", 255).unwrap(), 255);
    }
}
