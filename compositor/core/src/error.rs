//! The crate's validation error. Engine failures have their own enums next to what fails
//! ([`crate::session::SessionError`], [`crate::session::CommandError`],
//! [`crate::sink::OutputError`], [`crate::render::RenderError`], [`crate::align::AlignError`]);
//! their mapping onto gRPC statuses lives in one place (`compositor-server`'s
//! `manager::from_command`), onto HTTP statuses in one place (`compositor-webrtc`'s WHIP
//! routes).

/// A value refused by validation: the message names the field and the bound. Whatever
/// refused it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(s: String) -> Self {
        Invalid(s)
    }
}

impl From<&str> for Invalid {
    fn from(s: &str) -> Self {
        Invalid(s.to_owned())
    }
}
