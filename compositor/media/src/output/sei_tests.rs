//! Unit tests of the SEI builder, the access-unit insertion and the tagger's bookkeeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const AUD: &[u8] = &[0x09, 0xF0];
const SPS: &[u8] = &[0x67, 0x42, 0xC0, 0x1E, 0xDA];
const PPS: &[u8] = &[0x68, 0xCE, 0x3C, 0x80];
const IDR: &[u8] = &[0x65, 0x88, 0x84, 0x21, 0xA0];

fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

#[test]
fn uuid_has_no_zero_byte_and_matches_its_string() {
    assert!(!LAYOUT_SEI_UUID.contains(&0));
    let hex: String = LAYOUT_SEI_UUID.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, LAYOUT_SEI_UUID_STR.replace('-', ""));
}

#[test]
fn small_payload_layout() {
    let payload = br#"{"frame":7}"#;
    let nal = sei_nal(payload).unwrap();
    assert_eq!(nal[0], 0x06, "nal header");
    assert_eq!(nal[1], 5, "payload type");
    assert_eq!(usize::from(nal[2]), 16 + payload.len(), "payload size");
    assert_eq!(&nal[3..19], &LAYOUT_SEI_UUID);
    assert_eq!(&nal[19..19 + payload.len()], payload);
    assert_eq!(*nal.last().unwrap(), 0x80, "rbsp trailing bits");
    assert_eq!(nal.len(), 3 + 16 + payload.len() + 1);
}

#[test]
fn large_payload_size_uses_ff_continuation() {
    let payload = vec![b'x'; 300];
    let nal = sei_nal(&payload).unwrap();
    assert_eq!(&nal[1..4], &[5, 0xFF, (316 - 255) as u8]);
    assert_eq!(&nal[4..20], &LAYOUT_SEI_UUID);
    assert_eq!(nal.len(), 4 + 316 + 1);
    assert!(sei_nal(&vec![b'x'; MAX_SEI_PAYLOAD]).is_ok());
    assert_eq!(
        sei_nal(&vec![b'x'; MAX_SEI_PAYLOAD + 1]),
        Err(SeiError::TooLarge(MAX_SEI_PAYLOAD + 1))
    );
}

#[test]
fn emulation_prevention() {
    let payload = [b'a', 0, 0, 1, b'b', 0, 0, 0, 0, 0, 0, 2, 0, 0];
    let nal = sei_nal(&payload).unwrap();
    let body = &nal[19..];
    assert_eq!(
        body,
        &[
            b'a', 0, 0, 3, 1, b'b', 0, 0, 3, 0, 0, 3, 0, 0, 3, 2, 0, 0, 0x80
        ]
    );
    // No start code survives anywhere in the NAL, and unescaping gives the RBSP back.
    assert!(!nal.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
    let rbsp = unescape(&nal);
    assert_eq!(&rbsp[19..19 + payload.len()], &payload);
}

fn annex_b(nals: &[(&[u8], bool)]) -> Vec<u8> {
    let mut au = Vec::new();
    for (nal, long) in nals {
        if *long {
            au.push(0);
        }
        au.extend_from_slice(&[0, 0, 1]);
        au.extend_from_slice(nal);
    }
    au
}

#[test]
fn byte_stream_sei_goes_after_pps_before_idr() {
    let sei = sei_nal(b"{}").unwrap();
    for long_idr in [false, true] {
        let au = annex_b(&[(AUD, true), (SPS, true), (PPS, false), (IDR, long_idr)]);
        let out = insert_sei(&au, NalFormat::ByteStream, &sei).unwrap();
        let want = annex_b(&[
            (AUD, true),
            (SPS, true),
            (PPS, false),
            (&sei, true),
            (IDR, long_idr),
        ]);
        assert_eq!(out, want, "idr with 4-byte start code: {long_idr}");
    }
    // A non-IDR slice (type 1) with two slices: before the first one only.
    let p = [0x41, 0x9A, 0x02];
    let au = annex_b(&[(AUD, true), (&p, true), (&p, false)]);
    let out = insert_sei(&au, NalFormat::ByteStream, &sei).unwrap();
    assert_eq!(
        out,
        annex_b(&[(AUD, true), (&sei, true), (&p, true), (&p, false)])
    );
}

fn avc(nals: &[&[u8]], length_size: usize) -> Vec<u8> {
    let mut au = Vec::new();
    for nal in nals {
        let len = (nal.len() as u32).to_be_bytes();
        au.extend_from_slice(&len[4 - length_size..]);
        au.extend_from_slice(nal);
    }
    au
}

#[test]
fn avc_sei_goes_after_pps_before_idr() {
    let sei = sei_nal(br#"{"frame":1}"#).unwrap();
    for length_size in [4, 2, 1] {
        let au = avc(&[AUD, SPS, PPS, IDR], length_size);
        let out = insert_sei(&au, NalFormat::Avc { length_size }, &sei).unwrap();
        assert_eq!(out, avc(&[AUD, SPS, PPS, &sei, IDR], length_size));
    }
    // The SEI does not fit a 1-byte length.
    let big = sei_nal(&[b'x'; 300]).unwrap();
    let au = avc(&[IDR], 1);
    assert_eq!(
        insert_sei(&au, NalFormat::Avc { length_size: 1 }, &big),
        None
    );
}

#[test]
fn garbage_is_refused() {
    let sei = sei_nal(b"{}").unwrap();
    let bs = NalFormat::ByteStream;
    let avc4 = NalFormat::Avc { length_size: 4 };
    assert_eq!(insert_sei(&[], bs, &sei), None);
    assert_eq!(insert_sei(&[1, 2, 3, 4, 5, 6], bs, &sei), None);
    // Bytes before the first start code.
    assert_eq!(insert_sei(&[7, 0, 0, 1, 0x65, 1], bs, &sei), None);
    // No VCL NAL.
    assert_eq!(
        insert_sei(&annex_b(&[(SPS, true), (PPS, true)]), bs, &sei),
        None
    );
    // Forbidden zero bit.
    assert_eq!(insert_sei(&[0, 0, 1, 0xE5, 1], bs, &sei), None);
    // Start code at the very end.
    assert_eq!(insert_sei(&[0, 0, 0, 1], bs, &sei), None);
    // AVC: length past the end, zero length, truncated prefix, bad length size.
    assert_eq!(insert_sei(&[0, 0, 0, 9, 0x65, 1], avc4, &sei), None);
    assert_eq!(insert_sei(&[0, 0, 0, 0, 0x65, 1], avc4, &sei), None);
    let mut au = avc(&[IDR], 4);
    au.extend_from_slice(&[0, 0]);
    assert_eq!(insert_sei(&au, avc4, &sei), None);
    let au = avc(&[IDR], 4);
    assert!(insert_sei(&au, avc4, &sei).is_some());
    for length_size in [0, 5] {
        assert_eq!(insert_sei(&au, NalFormat::Avc { length_size }, &sei), None);
    }
    assert_eq!(insert_sei(&[0xFF; 64], avc4, &sei), None);
}

#[test]
fn remember_is_bounded_and_skips_empty() {
    let t = SeiTagger::new();
    t.remember(Duration::from_millis(1), b"");
    assert!(t.inner.lock().is_empty());
    for i in 0..(MAX_PENDING as u64 + 10) {
        t.remember(
            Duration::from_millis(i),
            format!("{{\"frame\":{i}}}").as_bytes(),
        );
    }
    let pending = t.inner.lock();
    assert_eq!(pending.len(), MAX_PENDING);
    assert_eq!(
        pending.keys().next(),
        Some(&nanos(Duration::from_millis(10)))
    );
    drop(pending);
    t.remember(Duration::ZERO, &vec![b'x'; MAX_SEI_PAYLOAD + 1]);
    assert_eq!(t.failures(), 1);
}
