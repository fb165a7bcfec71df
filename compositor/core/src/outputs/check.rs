//! Checks of destination fields, one rule per kind of field, shared by the gRPC layer
//! (`control-api`, with proto field names such as `rtmp.url`) and the engine's own spec
//! validation ([`super::validate_spec`], with `target.*` names). An error names the field and
//! never echoes a secret.

use super::SrtMode;
use crate::Invalid;

fn invalid(field: &str, why: impl std::fmt::Display) -> Invalid {
    Invalid(format!("{field}: {why}"))
}

/// Length and control characters of any text field.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.len() > max {
        return Err(invalid(
            field,
            format!("is {} bytes; at most {max} allowed", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A URL with one of `schemes` (any case), a host, at most 2048 bytes of printable ASCII.
pub fn url(field: &str, value: &str, schemes: &[&str]) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    text(field, value, 2048)?;
    if value.chars().any(char::is_whitespace) {
        return Err(invalid(field, "must not contain spaces"));
    }
    if !value.is_ascii() {
        return Err(invalid(
            field,
            "must be ASCII (percent-encode other characters)",
        ));
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(invalid(
            field,
            format!("must start with {}://", schemes.join(":// or ")),
        ));
    };
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(invalid(
            field,
            format!(
                "scheme {scheme:?} is not allowed; use {}",
                schemes.join(" or ")
            ),
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid(field, "has no host"));
    }
    Ok(())
}

/// An SRT `host:port` (a listener may leave the host empty: every interface).
pub fn srt_address(field: &str, value: &str, mode: SrtMode) -> Result<(), Invalid> {
    text(field, value, 512)?;
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(invalid(field, "must be host:port"));
    };
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => {}
        _ => {
            return Err(invalid(
                field,
                format!("port {port:?} is out of range 1..=65535"),
            ));
        }
    }
    if !host.bytes().all(|b| b.is_ascii_graphic()) || host.contains(['?', '&', '/']) {
        return Err(invalid(
            field,
            format!("host {host:?} is not a host name or address"),
        ));
    }
    if host.is_empty() && mode == SrtMode::Caller {
        return Err(invalid(field, "a caller needs a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(url("f", "rtmp://cdn.example/live", &["rtmp", "rtmps"]).is_ok());
        assert!(
            url(
                "f",
                "RTMPS://user:pw@cdn.example:443/app",
                &["rtmp", "rtmps"]
            )
            .is_ok()
        );
        let e = |v: &str| url("f", v, &["rtmp"]).unwrap_err().0;
        assert_eq!(e(""), "f: must not be empty");
        assert_eq!(e("rtmp://a b"), "f: must not contain spaces");
        assert_eq!(
            e("http://x/y"),
            "f: scheme \"http\" is not allowed; use rtmp"
        );
        assert_eq!(e("rtmp:///app"), "f: has no host");
        assert_eq!(e("rtmp://u@:1935/app"), "f: has no host");
        assert_eq!(e("cdn.example/live"), "f: must start with rtmp://");
        assert!(e("rtmp://ex\u{e4}mple/live").starts_with("f: must be ASCII"));
        assert!(e(&format!("rtmp://x/{}", "a".repeat(3000))).contains("at most 2048"));
    }

    #[test]
    fn srt_addresses() {
        assert!(srt_address("f", "ingest.example:9000", SrtMode::Caller).is_ok());
        assert!(srt_address("f", ":9000", SrtMode::Listener).is_ok());
        let e = |v: &str, m| srt_address("f", v, m).unwrap_err().0;
        assert_eq!(e("host", SrtMode::Caller), "f: must be host:port");
        assert_eq!(
            e("host:0", SrtMode::Caller),
            "f: port \"0\" is out of range 1..=65535"
        );
        assert_eq!(e(":9000", SrtMode::Caller), "f: a caller needs a host");
        assert!(e("a/b:9000", SrtMode::Caller).contains("not a host"));
    }
}
