//! `compositor stream`: a real-time PK session of two synthetic hosts sent to the outputs
//! given on the command line through the [`OutputHub`] (RTMP, SRT, HLS, MP4). Also the
//! building block of the output tests ([`LiveSession`]).
//!
//! Threads: the session thread renders and pushes into the hub; one feeder thread per
//! synthetic host paces its frames on the wall clock; the hub runs its encodes and one worker
//! per output. Time: session clock from the first tick, real-time mode.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;
use layouts::Size;

use crate::demo::pk_scene;
use crate::synthetic::SyntheticHost;
use compositor_core::frame::ColorMatrix;
use compositor_core::session::{
    ClockMode, EventLog, Fps, Session, SessionConfig, SessionHandle, SessionReport,
};
use compositor_media::output::{
    EncoderSettings, OutputControl, OutputHub, OutputSpec, StreamFormat,
};
use compositor_render::Gpus;

/// Options of a live session.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Canvas.
    pub size: Size,
    /// Frame rate.
    pub fps: Fps,
    /// Length (None: until stopped).
    pub duration: Option<Duration>,
    /// Default encoder profile.
    pub encoder: EncoderSettings,
    /// Where the compositor comes from (adapter choice, compose override).
    pub gpus: Gpus,
    /// Synthetic host picture size (None: the canvas size).
    pub host_size: Option<Size>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            size: Size::new(1280, 720),
            fps: Fps::new(30, 1),
            duration: None,
            encoder: EncoderSettings::default(),
            gpus: Gpus::default(),
            host_size: None,
        }
    }
}

/// A running real-time session of two synthetic hosts feeding an output hub.
pub struct LiveSession {
    /// The session (join it, or stop it through `handle`).
    pub session: Session,
    /// Its handle.
    pub handle: SessionHandle,
    /// Output control.
    pub outputs: Arc<dyn OutputControl>,
    /// The session's events (outputs report here).
    pub events: Arc<EventLog>,
    feeders: Vec<JoinHandle<()>>,
}

impl LiveSession {
    /// Starts the session; add outputs through [`LiveSession::outputs`].
    pub fn start(opts: &LiveOptions) -> Result<Self> {
        let mut config = SessionConfig::new(pk_scene(opts.size));
        config.scene.overlays.clear();
        config.canvas = opts.size;
        config.fps = opts.fps;
        config.clock = ClockMode::RealTime;
        config.duration = opts.duration;
        config.initial_inputs = vec!["host-a".into(), "host-b".into()];
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid session options: {e}"))?;
        let fmt = StreamFormat {
            width: opts.size.w,
            height: opts.size.h,
            fps_num: opts.fps.num,
            fps_den: opts.fps.den,
            matrix: ColorMatrix::for_height(opts.size.h),
            sample_rate: config.mixer.sample_rate,
            channels: config.mixer.channels,
        };
        let events = Arc::new(EventLog::default());
        let (hub, outputs) = OutputHub::with_options(
            fmt,
            opts.encoder.clone(),
            events.clone(),
            compositor_webrtc::hub_options(),
        )?;
        let renderer = opts.gpus.renderer(config.compose, config.canvas)?;
        let mut session =
            Session::start_with_events(config, renderer, Box::new(hub), events.clone())?;
        let handle = session.handle();
        let host_size = opts.host_size.unwrap_or(opts.size);
        let run_for = opts.duration.map_or(Duration::from_secs(24 * 3600), |d| {
            d + Duration::from_millis(200)
        });
        let mut feeders = Vec::new();
        for sender in session.take_inputs() {
            let (tint, tone) = if sender.id() == "host-a" {
                ((230, 60, 80), 440.0)
            } else {
                ((60, 120, 240), 660.0)
            };
            let host = SyntheticHost {
                width: host_size.w,
                height: host_size.h,
                fps: opts.fps,
                ..SyntheticHost::new(tint, tone)
            };
            feeders.push(std::thread::spawn(move || host.run(&sender, run_for, true)));
        }
        Ok(Self {
            session,
            handle,
            outputs,
            events,
            feeders,
        })
    }

    /// Stops the session now.
    pub fn stop(&self) {
        self.handle.stop();
    }

    /// Waits for the end (duration or stop); outputs are finalised.
    pub fn join(self) -> Result<SessionReport> {
        let report = self.session.join()?;
        for f in self.feeders {
            let _ = f.join();
        }
        Ok(report)
    }
}

/// Runs `compositor stream`: adds `outputs`, prints the output events to stderr, ends after
/// the duration (or never).
pub fn run(opts: &LiveOptions, outputs: Vec<OutputSpec>) -> Result<SessionReport> {
    let live = LiveSession::start(opts)?;
    for spec in outputs {
        let id = spec.id.clone();
        let info = live
            .outputs
            .add(spec)
            .map_err(|e| anyhow::anyhow!("output {id:?}: {e}"))?;
        eprintln!(
            "stream: output {} ({}) -> {}",
            info.id, info.kind, info.destination
        );
    }
    let mut seen = 0;
    while !live.handle.stats().ended {
        std::thread::sleep(Duration::from_millis(100));
        for (seq, ev) in live.events.since(seen) {
            seen = seq;
            eprintln!(
                "stream: event {}",
                serde_json::to_string(&ev).unwrap_or_default()
            );
        }
    }
    live.join()
}
