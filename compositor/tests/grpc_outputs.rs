//! The output RPCs of the gRPC control API end to end (see `grpc_support`): AddOutput's
//! refusals of invalid targets and encoder settings with their exact status, and a real MP4
//! recording added, listed with its byte count, removed and read back with ffprobe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use grpc_support::*;
use pb::add_output_request::Target;
use proto::v1 as pb;
use tonic::Code;

/// An AddOutput of output "rec" in session "s1".
fn out(t: Target, enc: Option<pb::EncoderSettings>) -> pb::AddOutputRequest {
    pb::AddOutputRequest {
        session_id: "s1".into(),
        output_id: "rec".into(),
        target: Some(t),
        encoder: enc,
    }
}

/// Default encoder settings changed by `f`.
fn enc(f: fn(&mut pb::EncoderSettings)) -> Option<pb::EncoderSettings> {
    let mut e = pb::EncoderSettings::default();
    f(&mut e);
    Some(e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_output_refuses_invalid_or_missing_targets() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "http://x/live".into(),
                stream_key: "k".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.url: scheme \"http\" is not allowed",
    );
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "rtmp:///live".into(),
                stream_key: "k".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.url: has no host",
    );
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "rtmp://cdn.example/live".into(),
                stream_key: "k".into(),
                tls_skip_verify: true,
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.tls_skip_verify: applies to rtmps:// URLs only",
    );
    refused(
        c.add_output(out(
            Target::Srt(pb::SrtTarget {
                address: "cdn:0".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "srt.address: port \"0\" is out of range 1..=65535",
    );
    refused(
        c.add_output(out(
            Target::Srt(pb::SrtTarget {
                address: "cdn:9000".into(),
                passphrase: "short".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "srt.passphrase: is 5 bytes; must be 10..=79",
    );
    refused(
        c.add_output(out(
            Target::Hls(pb::HlsTarget {
                dir: "/tmp/hls".into(),
                segment_secs: 60.0,
                playlist_size: 0,
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "hls.segment_secs: 60 is out of range 0.5..=30",
    );
    refused(
        c.add_output(out(
            Target::Mp4(pb::Mp4Target {
                path: "rel.mp4".into(),
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "mp4.path: must be an absolute path",
    );
    refused(
        c.add_output(out(
            Target::Whip(pb::WhipTarget {
                url: "ftp://sfu/whip".into(),
                token: String::new(),
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "whip.url: scheme \"ftp\"",
    );
    let mp4 = || {
        Target::Mp4(pb::Mp4Target {
            path: "/tmp/rec.mp4".into(),
        })
    };
    let mut no_target = out(mp4(), None);
    no_target.target = None;
    refused(
        c.add_output(no_target).await,
        Code::InvalidArgument,
        "target: is required",
    );
    assert!(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outputs
        .is_empty(),
        "a refused AddOutput added an output"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_output_refuses_out_of_range_encoder_settings() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    let mp4 = || {
        Target::Mp4(pb::Mp4Target {
            path: "/tmp/rec.mp4".into(),
        })
    };
    refused(
        c.add_output(out(mp4(), enc(|e| e.video_kbps = 99))).await,
        Code::InvalidArgument,
        "encoder.video_kbps: 99 is out of range 100..=50000",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.keyframe_interval = 601)))
            .await,
        Code::InvalidArgument,
        "encoder.keyframe_interval: 601 is out of range 1..=600",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.preset = "ludicrous".into())))
            .await,
        Code::InvalidArgument,
        "encoder.preset: \"ludicrous\" is not one of",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.profile = "extreme".into())))
            .await,
        Code::InvalidArgument,
        "encoder.profile",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.codec = pb::VideoCodec::Vp8 as i32)))
            .await,
        Code::InvalidArgument,
        "encoder.codec: VP8 is only for WHIP",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.audio_kbps = 1000))).await,
        Code::InvalidArgument,
        "encoder.audio_kbps: 1000 is out of range 32..=320",
    );
    assert!(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outputs
        .is_empty(),
        "a refused AddOutput added an output"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mp4_output_records_decodable_h264_until_removed_and_unknown_ids_are_not_found() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    // A valid request reaches the output hub: a real fragmented MP4 recording starts.
    let rec_path =
        std::env::temp_dir().join(format!("grpc-outputs-rec-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&rec_path);
    let rec_target = || {
        Target::Mp4(pb::Mp4Target {
            path: rec_path.to_string_lossy().into_owned(),
        })
    };
    let added = c
        .add_output(out(rec_target(), enc(|e| e.video_kbps = 800)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.output_id, "rec");
    assert_eq!(added.kind, "mp4");
    refused(
        c.add_output(out(rec_target(), None)).await,
        Code::AlreadyExists,
        "rec",
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let outs = c
        .list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outs.outputs.len(), 1, "{outs:?}");
    assert_eq!(outs.outputs[0].output_id, "rec");
    assert!(
        outs.outputs[0].bytes > 0,
        "the recording received data: {outs:?}"
    );
    c.remove_output(pb::RemoveOutputRequest {
        session_id: "s1".into(),
        output_id: "rec".into(),
    })
    .await
    .unwrap();
    let meta = std::fs::metadata(&rec_path).unwrap();
    assert!(meta.len() > 1000, "MP4 written: {} bytes", meta.len());
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&rec_path)
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).to_string();
    let fields: Vec<&str> = probe.trim().split(',').collect();
    assert_eq!(fields.first().copied(), Some("h264"), "ffprobe: {probe}");
    let frames: u64 = fields.last().and_then(|f| f.parse().ok()).unwrap_or(0);
    assert!(frames >= 20, "decodable frames in the recording: {probe}");
    let _ = std::fs::remove_file(&rec_path);
    let outs = c
        .list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(outs.outputs.is_empty());
    refused(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "zz".into(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    refused(
        c.remove_output(pb::RemoveOutputRequest {
            session_id: "s1".into(),
            output_id: "rec".into(),
        })
        .await,
        Code::NotFound,
        "output \"rec\"",
    );
    server.stop().await;
}
