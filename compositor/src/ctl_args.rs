//! Small argument parsers shared by the `ctl` subcommands.

/// Comma-separated ids, trimmed, empty ones dropped.
pub(crate) fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
