//! Per-frame layout metadata carried inside the H.264 stream as an SEI NAL unit
//! (`user_data_unregistered`, payload type 5), so a player reads tile rectangles in sync with
//! the picture.
//!
//! The SEI is identified by the fixed UUID [`LAYOUT_SEI_UUID`], canonical string form
//! `0167966d-4731-4c4f-8488-65d08689e6e6` ([`LAYOUT_SEI_UUID_STR`]). None of its bytes is
//! zero, so no emulation prevention byte ever lands inside the UUID.
//!
//! Invariants:
//! - Units: pts are session time ([`Duration`], ns precision) = GStreamer running time, the
//!   same conversion as the raw frames pushed into the encoder (`elements::clock_time`).
//!   Payloads are opaque bytes (a compact JSON), at most [`MAX_SEI_PAYLOAD`] bytes.
//! - [`sei_nal`] returns a NAL unit without start code or length prefix, emulation
//!   prevention applied. [`insert_sei`] puts it right before the first VCL NAL (types 1..=5)
//!   of an access unit, after any AUD/SPS/PPS/other SEI, or returns `None` (the caller then
//!   passes the access unit through unchanged and counts it).
//! - Ownership and threads: the session owns each frame and its metadata; [`SeiTagger::remember`]
//!   copies the metadata on the session thread into a map bounded to [`MAX_PENDING`] entries
//!   (oldest dropped first). The encoder's streaming thread, in a pad probe on the encoder's src
//!   pad ([`SeiTagger::attach`]), takes the entry matching each encoded buffer's pts (running
//!   time, so encoder segment offsets do not matter; lookup by pts also survives B-frame
//!   reordering) and replaces the buffer's memory with the tagged access unit. Nothing panics
//!   on stream data; failures are counted and logged once per 100.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::warn;

use super::OutputError;

/// The UUID of the layout SEI (`0167966d-4731-4c4f-8488-65d08689e6e6`); no byte is zero.
pub const LAYOUT_SEI_UUID: [u8; 16] = [
    0x01, 0x67, 0x96, 0x6d, 0x47, 0x31, 0x4c, 0x4f, 0x84, 0x88, 0x65, 0xd0, 0x86, 0x89, 0xe6, 0xe6,
];

/// [`LAYOUT_SEI_UUID`] in canonical string form.
pub const LAYOUT_SEI_UUID_STR: &str = "0167966d-4731-4c4f-8488-65d08689e6e6";

/// Largest payload (after the UUID) [`sei_nal`] accepts, in bytes.
pub const MAX_SEI_PAYLOAD: usize = 4096;

/// Most pts → metadata entries a [`SeiTagger`] keeps waiting for their encoded frame.
pub const MAX_PENDING: usize = 128;

const NAL_SEI: u8 = 6;
const SEI_USER_DATA_UNREGISTERED: u8 = 5;

/// Why an SEI could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeiError {
    /// The payload is over [`MAX_SEI_PAYLOAD`] bytes.
    #[error("SEI payload of {0} bytes is over the {MAX_SEI_PAYLOAD}-byte cap")]
    TooLarge(usize),
}

/// How the NAL units of an access unit are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalFormat {
    /// Annex B: start codes `00 00 01` / `00 00 00 01`.
    ByteStream,
    /// AVC (ISO/IEC 14496-15): big-endian length prefixes of `length_size` (1..=4) bytes.
    Avc {
        /// Bytes per length prefix.
        length_size: usize,
    },
}

/// A complete SEI NAL unit (no start code, no length prefix) carrying one
/// `user_data_unregistered` message: [`LAYOUT_SEI_UUID`] then `payload`. Emulation
/// prevention bytes are inserted. Payloads over [`MAX_SEI_PAYLOAD`] are refused.
pub fn sei_nal(payload: &[u8]) -> Result<Vec<u8>, SeiError> {
    if payload.len() > MAX_SEI_PAYLOAD {
        return Err(SeiError::TooLarge(payload.len()));
    }
    let size = LAYOUT_SEI_UUID.len() + payload.len();
    let mut rbsp = Vec::with_capacity(size + size / 255 + 4);
    rbsp.push(SEI_USER_DATA_UNREGISTERED);
    let mut rest = size;
    while rest >= 255 {
        rbsp.push(0xFF);
        rest -= 255;
    }
    rbsp.push(rest as u8); // < 255 by the loop above
    rbsp.extend_from_slice(&LAYOUT_SEI_UUID);
    rbsp.extend_from_slice(payload);
    rbsp.push(0x80); // rbsp_stop_one_bit + alignment
    let mut nal = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 2);
    nal.push(NAL_SEI); // forbidden_zero_bit 0, nal_ref_idc 0, type 6
    let mut zeros = 0;
    for &b in &rbsp {
        if zeros >= 2 && b <= 3 {
            nal.push(3);
            zeros = 0;
        }
        nal.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    Ok(nal)
}

/// `au` with `sei_nal` inserted before its first VCL NAL unit (types 1..=5), in the same
/// delimiting `format`. `None` when `au` cannot be parsed or has no VCL NAL unit.
pub fn insert_sei(au: &[u8], format: NalFormat, sei_nal: &[u8]) -> Option<Vec<u8>> {
    let (at, prefix) = match format {
        NalFormat::ByteStream => (first_vcl_byte_stream(au)?, vec![0, 0, 0, 1]),
        NalFormat::Avc { length_size } => {
            if !(1..=4).contains(&length_size) || sei_nal.len() >= 1usize << (8 * length_size) {
                return None;
            }
            let len = (sei_nal.len() as u32).to_be_bytes();
            (
                first_vcl_avc(au, length_size)?,
                len[4 - length_size..].to_vec(),
            )
        }
    };
    let mut out = Vec::with_capacity(au.len() + prefix.len() + sei_nal.len());
    out.extend_from_slice(&au[..at]);
    out.extend_from_slice(&prefix);
    out.extend_from_slice(sei_nal);
    out.extend_from_slice(&au[at..]);
    Some(out)
}

fn is_vcl(header: u8) -> Option<bool> {
    if header & 0x80 != 0 {
        return None; // forbidden_zero_bit
    }
    Some((1..=5).contains(&(header & 0x1F)))
}

/// Offset of the start code (with its leading zero byte, if any) of the first VCL NAL.
fn first_vcl_byte_stream(au: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut first = true;
    while i + 3 <= au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            if first && au[..i].iter().any(|&b| b != 0) {
                return None; // bytes before the first start code
            }
            first = false;
            let begin = if i > 0 && au[i - 1] == 0 { i - 1 } else { i };
            let header = *au.get(i + 3)?;
            if is_vcl(header)? {
                return Some(begin);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    None
}

/// Offset of the length prefix of the first VCL NAL; the whole AU must parse.
fn first_vcl_avc(au: &[u8], length_size: usize) -> Option<usize> {
    let mut pos = 0;
    let mut found = None;
    while pos < au.len() {
        let len_bytes = au.get(pos..pos + length_size)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let start = pos + length_size;
        let end = start.checked_add(len)?;
        if len == 0 || end > au.len() {
            return None;
        }
        if is_vcl(au[start])? && found.is_none() {
            found = Some(pos);
        }
        pos = end;
    }
    found
}

/// Tags encoded H.264 access units with the layout metadata of their frame. Cheap to clone
/// (shared state); see the module doc for threads and ownership.
#[derive(Debug, Clone, Default)]
pub struct SeiTagger {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pending: Mutex<BTreeMap<u64, Vec<u8>>>,
    tagged: AtomicU64,
    untagged: AtomicU64,
    failures: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl SeiTagger {
    /// A tagger with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `meta` for the frame of session time `pts` until its encoded buffer leaves the
    /// encoder. Empty `meta` stores nothing; over [`MAX_SEI_PAYLOAD`] is refused (counted as a
    /// failure). At most [`MAX_PENDING`] entries are kept, the oldest dropped first.
    pub fn remember(&self, pts: Duration, meta: &[u8]) {
        if meta.is_empty() {
            return;
        }
        if meta.len() > MAX_SEI_PAYLOAD {
            self.inner.fail(&SeiError::TooLarge(meta.len()).to_string());
            return;
        }
        let mut pending = self.inner.lock();
        while pending.len() >= MAX_PENDING {
            pending.pop_first();
        }
        pending.insert(nanos(pts), meta.to_vec());
    }

    /// Installs the buffer probe on `encoder`'s src pad (an H.264 encoder).
    pub fn attach(&self, encoder: &gst::Element) -> Result<(), OutputError> {
        let pad = encoder
            .static_pad("src")
            .ok_or_else(|| OutputError::Setup(format!("{}: no src pad", encoder.name())))?;
        let inner = self.inner.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(buffer) = info.buffer_mut() {
                inner.tag(pad, buffer);
            }
            gst::PadProbeReturn::Ok
        })
        .ok_or_else(|| OutputError::Setup(format!("{}: cannot probe src pad", encoder.name())))?;
        Ok(())
    }

    /// Encoded frames that left with an SEI.
    pub fn tagged(&self) -> u64 {
        self.inner.tagged.load(Ordering::Relaxed)
    }

    /// Encoded frames that left without one (no metadata, or tagging failed).
    pub fn untagged(&self) -> u64 {
        self.inner.untagged.load(Ordering::Relaxed)
    }

    /// Metadata refused or access units that could not be tagged.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<u8>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, why: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n % 100 == 1 {
            warn!(failures = n, why, "layout SEI not written");
        }
    }

    /// Streaming thread: takes the metadata of `buffer`'s frame and inserts it.
    fn tag(&self, pad: &gst::Pad, buffer: &mut gst::Buffer) {
        let segment = pad
            .sticky_event::<gst::event::Segment>(0)
            .and_then(|ev| ev.segment().downcast_ref::<gst::ClockTime>().cloned());
        let running = |t: Option<gst::ClockTime>| match &segment {
            Some(seg) => t.and_then(|t| seg.to_running_time(t)),
            None => t,
        };
        let (Some(pts), dts) = (running(buffer.pts()), running(buffer.dts())) else {
            self.untagged.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let meta = {
            let mut pending = self.lock();
            let meta = pending.remove(&pts.nseconds());
            // Frames still to come have pts >= their dts > this dts: older entries are stale.
            // Without dts, allow one second of reordering.
            let stale = dts.map_or(pts.nseconds().saturating_sub(1_000_000_000), |d| {
                d.nseconds().saturating_add(1)
            });
            while pending.first_key_value().is_some_and(|(k, _)| *k < stale) {
                pending.pop_first();
            }
            meta
        };
        let Some(meta) = meta else {
            self.untagged.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match self.insert(pad, buffer, &meta) {
            Ok(()) => {
                self.tagged.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                self.untagged.fetch_add(1, Ordering::Relaxed);
                self.fail(&why);
            }
        }
    }

    fn insert(&self, pad: &gst::Pad, buffer: &mut gst::Buffer, meta: &[u8]) -> Result<(), String> {
        let format = nal_format(pad).ok_or("stream format unknown")?;
        let nal = sei_nal(meta).map_err(|e| e.to_string())?;
        let tagged = {
            let map = buffer.map_readable().map_err(|e| e.to_string())?;
            insert_sei(&map, format, &nal).ok_or("access unit does not parse")?
        };
        buffer
            .make_mut()
            .replace_all_memory(gst::Memory::from_mut_slice(tagged));
        Ok(())
    }
}

/// The delimiting of the H.264 on `pad` from its negotiated caps: byte-stream, or avc/avc3
/// with the length size of `codec_data` (4 when absent).
fn nal_format(pad: &gst::Pad) -> Option<NalFormat> {
    let caps = pad.current_caps()?;
    let s = caps.structure(0)?;
    match s.get::<&str>("stream-format").ok()? {
        "byte-stream" => Some(NalFormat::ByteStream),
        "avc" | "avc3" => {
            let length_size = s
                .get::<gst::Buffer>("codec_data")
                .ok()
                .and_then(|b| {
                    let map = b.map_readable().ok()?;
                    map.get(4).map(|v| usize::from(v & 0x03) + 1)
                })
                .unwrap_or(4);
            Some(NalFormat::Avc { length_size })
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "sei_tests.rs"]
mod tests;
