//! Encoder settings and stream formats: plain values, validated here, turned into
//! GStreamer elements by `compositor-media`. Outputs with equal [`EncoderSettings`] share
//! one encode.

use std::path::PathBuf;

use super::VideoCodec;
use crate::frame::ColorMatrix;

/// x264 speed presets a live encode may use (`placebo` is refused: it is never real time).
pub const X264_PRESETS: [&str; 9] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

/// Which H.264 encoder element to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderKind {
    /// `nvh264enc` when the element exists and opens, else `x264enc`.
    #[default]
    Auto,
    /// Always `x264enc`.
    X264,
    /// `nvh264enc` or an error.
    Nvh264,
}

impl std::str::FromStr for EncoderKind {
    type Err = crate::Invalid;
    fn from_str(s: &str) -> Result<Self, crate::Invalid> {
        match s {
            "auto" => Ok(Self::Auto),
            "x264" => Ok(Self::X264),
            "nvh264" | "nvenc" => Ok(Self::Nvh264),
            o => Err(crate::Invalid(format!(
                "unknown encoder {o:?}: use auto, x264 or nvh264"
            ))),
        }
    }
}

/// H.264 profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum H264Profile {
    /// Constrained baseline (no B-frames; what WebRTC peers decode everywhere).
    Baseline,
    /// Main.
    Main,
    /// High (the default: best quality per bit; CDNs and players accept it).
    #[default]
    High,
}

impl H264Profile {
    /// The caps name (`profile` field of `video/x-h264`).
    pub fn caps_name(self) -> &'static str {
        match self {
            Self::Baseline => "constrained-baseline",
            Self::Main => "main",
            Self::High => "high",
        }
    }
}

/// Encoder settings. Outputs with equal settings share one encode. Every field has a serde
/// default, so `{}` is a valid (default) profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EncoderSettings {
    /// Which encoder: `auto` uses a hardware H.264 encoder when its element exists, `x264`
    /// forbids it, `nvh264` forces it.
    pub kind: EncoderKind,
    /// Video bitrate, kbit/s.
    pub video_kbps: u32,
    /// x264 speed preset (ultrafast … veryslow).
    pub preset: String,
    /// Keyframe interval in frames.
    pub keyframe_interval: u32,
    /// AAC bitrate, bit/s (Opus uses the same figure, capped at 510 kbit/s).
    pub audio_bps: u32,
    /// H.264 profile.
    pub profile: H264Profile,
    /// Video codec.
    pub codec: VideoCodec,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            kind: EncoderKind::Auto,
            video_kbps: 4000,
            preset: "veryfast".into(),
            keyframe_interval: 60,
            audio_bps: 128_000,
            profile: H264Profile::High,
            codec: VideoCodec::H264,
        }
    }
}

impl EncoderSettings {
    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<(), crate::Invalid> {
        self.check().map_err(crate::Invalid)
    }

    fn check(&self) -> Result<(), String> {
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return Err(format!(
                "encoder.preset {:?}: use one of {X264_PRESETS:?}",
                self.preset
            ));
        }
        if !(100..=100_000).contains(&self.video_kbps) {
            return Err(format!(
                "encoder.video_kbps {}: must be 100..=100000",
                self.video_kbps
            ));
        }
        if !(1..=1000).contains(&self.keyframe_interval) {
            return Err(format!(
                "encoder.keyframe_interval {}: must be 1..=1000 frames",
                self.keyframe_interval
            ));
        }
        if !(16_000..=512_000).contains(&self.audio_bps) {
            return Err(format!(
                "encoder.audio_bps {}: must be 16000..=512000",
                self.audio_bps
            ));
        }
        if self.codec == VideoCodec::Vp8 && self.kind == EncoderKind::Nvh264 {
            return Err("encoder.kind nvh264 cannot encode codec vp8".into());
        }
        Ok(())
    }
}

/// Files to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputFiles {
    /// Fragmented MP4 path.
    pub mp4: Option<PathBuf>,
    /// FLV path.
    pub flv: Option<PathBuf>,
    /// HLS directory (`playlist.m3u8` + 2 s `segment%05d.ts`, every segment kept).
    pub hls: Option<PathBuf>,
}

/// Stream formats the encoder is fed.
#[derive(Debug, Clone, Copy)]
pub struct StreamFormat {
    /// Canvas width.
    pub width: u32,
    /// Canvas height.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Output matrix.
    pub matrix: ColorMatrix,
    /// Mix rate.
    pub sample_rate: u32,
    /// Mix channels.
    pub channels: u16,
}

impl StreamFormat {
    /// Checks what an encode needs: even sides of at least 16, a frame rate, a sample rate
    /// and 1 or 2 channels.
    pub fn validate(&self) -> Result<(), crate::Invalid> {
        if self.width < 16 || self.height < 16 || self.width % 2 == 1 || self.height % 2 == 1 {
            return Err(crate::Invalid(format!(
                "video {}x{}: sides must be even and at least 16",
                self.width, self.height
            )));
        }
        if self.fps_num == 0
            || self.fps_den == 0
            || self.sample_rate == 0
            || !(1..=2).contains(&self.channels)
        {
            return Err(crate::Invalid(
                "stream format: frame rate, sample rate and channels (1 or 2) must be set".into(),
            ));
        }
        Ok(())
    }
}
