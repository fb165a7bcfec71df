//! What a producer asks of an output — destination, encoder settings — as plain values, with
//! their validation. Shared by the gRPC service (`control-api`), the server and the output
//! hub (`compositor-media`), so an output kind or a URL rule is written once.

pub mod check;
mod settings;
mod spec;
mod validate;

pub use settings::{
    EncoderKind, EncoderSettings, H264Profile, OutputFiles, StreamFormat, X264_PRESETS,
};
pub use spec::{
    OutputControl, OutputCounters, OutputInfo, OutputSpec, OutputState, OutputTarget, SrtMode,
    VideoCodec,
};
pub use validate::{MAX_OUTPUTS, describe as describe_target, validate as validate_spec};
