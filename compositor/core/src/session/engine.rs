//! The session thread: output clock, input draining, command application, render and mix
//! ticks, and pushing to the sink. See the module doc of [`crate::session`] for the contract.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use layouts::{Content, LayoutEngine, Scene};
use mixer::{InputFormat, Mixer};
use tracing::{info, warn};

use super::command::{Command, CommandError, CommandReply};
use super::config::{ClockMode, SessionConfig};
use super::events::SessionEvent;
use super::graphics::{Graphics, TextTarget, pk_scene};
use super::input::{InputCounters, InputMessage, InputSender};
use super::phase::{GridPhase, PhaseWindow};
use super::placement::{Placement, SlotTiming, TimedMedia, TimedUnit};
use super::{Envelope, SessionError, SessionReport, SharedStats};
use crate::align::AudioPlacer;
use crate::frame::{I420Frame, VideoFrame};
use crate::render::{FrameRenderer, FrameSource, ImageAsset};
use crate::sink::OutputSink;

/// Mix tick length.
pub const MIX_TICK: Duration = Duration::from_millis(10);

/// A mixer tuning figure in ms as a `Duration` (clamped to 0..=1 s).
fn tuning_ms(v: f32) -> Duration {
    Duration::from_secs_f64(f64::from(v.clamp(0.0, 1000.0)) / 1000.0)
}

/// How long before its playout time a sample must be in hand for a mixer with `tuning`:
/// the block starting at `t` is mixed when `t + MIX_TICK` is due, with everything due before
/// `t + timed depth` released to it (so `timed depth - MIX_TICK` ahead), and samples are
/// released earlier still by the audio lead (the limiter's look-ahead and `audio_lead`, so
/// they leave the mixer and the encoder with their picture). 4 ms by default; the aligner's
/// budget covers it ([`crate::align::AlignConfig::audio_queue`]).
pub(super) fn audio_ahead(tuning: &mixer::MixerTuning, audio_lead: Duration) -> Duration {
    tuning_ms(tuning.timed_depth_ms).saturating_sub(MIX_TICK)
        + tuning_ms(tuning.limiter_lookahead_ms)
        + audio_lead
}
/// A PK refusal as the command error of the same kind.
fn pk_error(e: layouts::pk::PkError) -> CommandError {
    match e {
        layouts::pk::PkError::Invalid(m) => CommandError::Invalid(m),
        layouts::pk::PkError::NotFound(m) => CommandError::NotFound(m),
        layouts::pk::PkError::FailedPrecondition(m) => CommandError::FailedPrecondition(m),
    }
}

/// Smoothing of a slot's video wait (per shown frame).
const VIDEO_WAIT_ALPHA: f64 = 0.15;

struct Slot {
    rx: Option<Receiver<InputMessage>>,
    counters: Arc<InputCounters>,
    queue: VecDeque<VideoFrame>,
    current: Option<(VideoFrame, u64)>,
    /// Session time at which `current` became current.
    shown_since: Duration,
    /// Latest message time received (offline waiting); None before any.
    horizon: Option<Duration>,
    ended: bool,
    audio_fmt: Option<InputFormat>,
    /// Places the slot's audio by pts (created with the audio format).
    placer: Option<AudioPlacer>,
    /// Mean wait (s) between a frame's pts and the tick that first shows it (the output
    /// frame grid quantises video; the slot's audio is delayed by the same amount so lip
    /// sync holds). None before the first frame.
    video_wait: Option<f64>,
    /// Consecutive frames whose wait was over half a frame from `video_wait`.
    wait_outliers: u32,
    /// Registered image shown instead of the solid placeholder while there is no frame.
    placeholder: Option<String>,
    /// Recent frames' waits on the exact grid (for the output phase lock).
    phase: PhaseWindow,
    /// Fallback state of the slot's timed units.
    timing: SlotTiming,
}

struct SlotView<'a> {
    slots: &'a BTreeMap<String, Slot>,
    now: Duration,
    stall: Duration,
}

impl FrameSource for SlotView<'_> {
    fn frame(&self, input: &str) -> Option<(&VideoFrame, u64)> {
        let s = self.slots.get(input)?;
        let (f, seq) = s.current.as_ref()?;
        // Hold the last frame, then show the placeholder once it is older than the timeout.
        if self.now.saturating_sub(s.shown_since.max(f.pts)) > self.stall {
            return None;
        }
        Some((f, *seq))
    }

    fn placeholder_image(&self, input: &str) -> Option<&str> {
        self.slots.get(input)?.placeholder.as_deref()
    }
}

pub(super) struct Engine {
    cfg: SessionConfig,
    renderer: Box<dyn FrameRenderer>,
    layout: LayoutEngine,
    images: HashMap<String, ImageAsset>,
    image_generation: u64,
    slots: BTreeMap<String, Slot>,
    mixer: Mixer,
    sink: Box<dyn OutputSink>,
    out_frame: I420Frame,
    audio_buf: Vec<f32>,
    /// Samples released by a placer this tick (reused).
    release_buf: Vec<f32>,
    cmd_rx: Receiver<Envelope>,
    pending: Vec<Envelope>,
    stats: Arc<SharedStats>,
    next_seq: u64,
    /// Slot ids in order (kept to avoid allocating a list every tick).
    slot_ids: Vec<String>,
    /// The plan drawn this tick, reused across ticks.
    plan: layouts::FramePlan,
    mix_errors: u64,
    /// Half an output frame, s.
    half_frame: f64,
    /// Offset of the output ticks from the exact grid (real time with `phase_lock` only).
    grid_phase: GridPhase,
    /// Coherent slots' grid waits this tick (reused).
    phases: Vec<f64>,
    /// The session's aligner and settings (timed units are placed on this thread).
    placement: Placement,
    /// Name tags and the PK match.
    graphics: Graphics,
}

impl Engine {
    pub(super) fn new(
        cfg: SessionConfig,
        renderer: Box<dyn FrameRenderer>,
        sink: Box<dyn OutputSink>,
        cmd_rx: Receiver<Envelope>,
        stats: Arc<SharedStats>,
    ) -> Result<(Engine, Vec<InputSender>), SessionError> {
        let layout = LayoutEngine::new(cfg.canvas, cfg.scene.clone())
            .map_err(|e| SessionError::Config(format!("scene: {e}")))?;
        let mixer =
            Mixer::new(cfg.mixer).map_err(|e| SessionError::Config(format!("mixer: {e}")))?;
        let block = mixer.block_frames() * usize::from(mixer.channels());
        let out_frame = I420Frame::black(cfg.canvas.w, cfg.canvas.h)
            .map_err(|e| SessionError::Config(e.to_string()))?;
        let mut engine = Engine {
            renderer,
            layout,
            images: HashMap::new(),
            image_generation: 0,
            slots: BTreeMap::new(),
            mixer,
            sink,
            out_frame,
            audio_buf: vec![0.0; block],
            release_buf: Vec::new(),
            cmd_rx,
            pending: Vec::new(),
            stats,
            next_seq: 1,
            slot_ids: Vec::new(),
            plan: layouts::FramePlan {
                canvas: layouts::Size::new(0, 0),
                background: layouts::Rgba::BLACK,
                items: Vec::new(),
                regions: Vec::new(),
            },
            mix_errors: 0,
            half_frame: 0.5 / cfg.fps.as_f64().max(1.0),
            grid_phase: GridPhase::new(1.0 / cfg.fps.as_f64().max(1.0)),
            phases: Vec::new(),
            placement: Placement::new(cfg.align),
            graphics: Graphics::new(cfg.clock == ClockMode::Offline),
            cfg,
        };
        let mut senders = Vec::new();
        for id in engine.cfg.initial_inputs.clone() {
            senders.push(
                engine
                    .add_input(&id)
                    .map_err(|e| SessionError::Config(e.to_string()))?,
            );
        }
        for (at, cmd) in std::mem::take(&mut engine.cfg.scheduled) {
            let (reply, _) = crossbeam_channel::bounded(1);
            engine.pending.push(Envelope {
                cmd,
                at: Some(at),
                reply,
            });
        }
        // The initial scene may only reference initial inputs.
        engine
            .check_scene_refs(&engine.cfg.scene.clone())
            .map_err(|e| SessionError::Config(e.to_string()))?;
        Ok((engine, senders))
    }

    fn add_input(&mut self, id: &str) -> Result<InputSender, CommandError> {
        if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control()) {
            return Err(CommandError::Invalid(format!(
                "input id {id:?}: must be 1..=128 printable bytes"
            )));
        }
        if self.slots.contains_key(id) {
            return Err(CommandError::AlreadyExists(format!("input {id:?}")));
        }
        if self.slots.len() >= 64 {
            return Err(CommandError::Exhausted(
                "at most 64 inputs per session".into(),
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(self.cfg.input_queue);
        let counters = Arc::new(InputCounters::default());
        self.stats
            .inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), counters.clone());
        self.slots.insert(
            id.to_string(),
            Slot {
                rx: Some(rx),
                counters: counters.clone(),
                queue: VecDeque::new(),
                current: None,
                shown_since: Duration::ZERO,
                horizon: None,
                ended: false,
                audio_fmt: None,
                placer: None,
                video_wait: None,
                wait_outliers: 0,
                placeholder: None,
                phase: PhaseWindow::default(),
                timing: SlotTiming::default(),
            },
        );
        self.slot_ids.push(id.to_string());
        info!(input = id, "input slot added");
        self.stats
            .events
            .push(SessionEvent::InputAdded { id: id.to_string() });
        Ok(InputSender::new(
            id,
            tx,
            self.cfg.clock == ClockMode::Offline,
            counters,
        ))
    }

    fn check_scene_refs(&self, scene: &Scene) -> Result<(), CommandError> {
        let plan = layouts::plan(scene, self.cfg.canvas)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        for item in &plan.items {
            match &item.content {
                Content::Input(id) if !self.slots.contains_key(id) => {
                    return Err(CommandError::NotFound(format!(
                        "input {id:?} (add it before using it in a layout)"
                    )));
                }
                Content::Image(id) if !self.images.contains_key(id) => {
                    return Err(CommandError::NotFound(format!(
                        "image {id:?} (register it before using it)"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The input exists and has sent audio (so the mixer knows it): the precondition of
    /// every mixer control.
    fn require_audio_input(&self, id: &str) -> Result<(), CommandError> {
        match self.slots.get(id) {
            None => Err(CommandError::NotFound(format!("input {id:?}"))),
            Some(s) if s.audio_fmt.is_none() => Err(CommandError::FailedPrecondition(format!(
                "input {id:?} has no audio yet"
            ))),
            Some(_) => Ok(()),
        }
    }

    fn scene_uses(&self, content: &Content) -> bool {
        layouts::plan(self.layout.scene(), self.cfg.canvas)
            .map(|p| p.items.iter().any(|i| &i.content == content))
            .unwrap_or(false)
    }

    fn apply(&mut self, cmd: Command, now: Duration) -> Result<CommandReply, CommandError> {
        let done = Ok(CommandReply::Done { applied_at: now });
        match cmd {
            Command::SetScene { scene, transition } => {
                self.check_scene_refs(&scene)?;
                self.layout
                    .set_scene(scene, transition, now)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                info!(at = ?now, "scene applied");
                self.stats
                    .events
                    .push(SessionEvent::SceneApplied { at: now });
                done
            }
            Command::SetBackground(bg) => {
                let mut scene = self.layout.scene().clone();
                scene.background = bg;
                self.check_scene_refs(&scene)?;
                self.layout
                    .set_scene(scene, None, now)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                self.stats
                    .events
                    .push(SessionEvent::SceneApplied { at: now });
                done
            }
            Command::AddInput { id } => self.add_input(&id).map(CommandReply::Input),
            Command::RemoveInput { id } => {
                if !self.slots.contains_key(&id) {
                    return Err(CommandError::NotFound(format!("input {id:?}")));
                }
                if self.scene_uses(&Content::Input(id.clone())) {
                    return Err(CommandError::FailedPrecondition(format!(
                        "input {id:?} is in the current layout; change the layout first"
                    )));
                }
                self.slots.remove(&id);
                self.slot_ids.retain(|s| s != &id);
                let _ = self.mixer.remove_input(&id);
                self.stats
                    .inputs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                self.stats
                    .align
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                self.placement.remove_host(&id);
                self.graphics.labels.remove(&id);
                info!(input = %id, "input slot removed");
                self.stats
                    .events
                    .push(SessionEvent::InputRemoved { id: id.clone() });
                done
            }
            Command::RegisterImage { id, image } => {
                if id.is_empty() || id.len() > 128 {
                    return Err(CommandError::Invalid(format!(
                        "image id {id:?}: must be 1..=128 bytes"
                    )));
                }
                if id.starts_with(layouts::TEXT_PREFIX) {
                    return Err(CommandError::Invalid(format!(
                        "image id {id:?}: the prefix {:?} is kept for rasterized text",
                        layouts::TEXT_PREFIX
                    )));
                }
                let (w, h) = image.dimensions();
                if w == 0 || h == 0 || w > 8192 || h > 8192 {
                    return Err(CommandError::Invalid(format!(
                        "image {id:?} is {w}x{h}: sides must be 1..=8192"
                    )));
                }
                if !self.images.contains_key(&id) && self.images.len() >= 256 {
                    return Err(CommandError::Exhausted(
                        "at most 256 images per session".into(),
                    ));
                }
                self.image_generation += 1;
                self.images.insert(
                    id,
                    ImageAsset {
                        generation: self.image_generation,
                        rgba: image,
                    },
                );
                done
            }
            Command::RemoveImage { id } => {
                if !self.images.contains_key(&id) {
                    return Err(CommandError::NotFound(format!("image {id:?}")));
                }
                if self.scene_uses(&Content::Image(id.clone())) {
                    return Err(CommandError::FailedPrecondition(format!(
                        "image {id:?} is in the current scene"
                    )));
                }
                if let Some((input, _)) = self
                    .slots
                    .iter()
                    .find(|(_, s)| s.placeholder.as_deref() == Some(id.as_str()))
                {
                    return Err(CommandError::FailedPrecondition(format!(
                        "image {id:?} is the placeholder of input {input:?}; clear it first"
                    )));
                }
                self.images.remove(&id);
                self.renderer.drop_image(&id);
                done
            }
            Command::SetPlaceholder { id, image } => {
                let slot = self
                    .slots
                    .get_mut(&id)
                    .ok_or_else(|| CommandError::NotFound(format!("input {id:?}")))?;
                if let Some(img) = &image
                    && !self.images.contains_key(img)
                {
                    return Err(CommandError::NotFound(format!("image {img:?}")));
                }
                info!(input = %id, image = ?image, "input placeholder set");
                slot.placeholder = image;
                done
            }
            Command::SetGain { id, db } => {
                self.require_audio_input(&id)?;
                self.mixer
                    .set_gain_db(&id, db)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                done
            }
            Command::SetMute { id, mute } => {
                self.require_audio_input(&id)?;
                self.mixer
                    .set_mute(&id, mute)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                done
            }
            Command::SetSolo { id, solo } => {
                self.require_audio_input(&id)?;
                self.mixer
                    .set_solo(&id, solo)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                done
            }
            Command::SetDucking(d) => {
                if let Some(d) = &d {
                    self.require_audio_input(&d.trigger)?;
                }
                self.mixer
                    .set_ducking(d)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                done
            }
            Command::SetLabel { id, label } => {
                if !self.slots.contains_key(&id) {
                    return Err(CommandError::NotFound(format!("input {id:?}")));
                }
                layouts::check_text("label", &label)
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                if label.is_empty() {
                    self.graphics.labels.remove(&id);
                } else {
                    self.graphics.labels.insert(id, label);
                }
                done
            }
            Command::StartPk { spec, theme } => self.start_pk(spec, theme, now),
            Command::UpdatePkScore { host, change, key } => {
                let up = self
                    .graphics
                    .pk
                    .update_score(&host, change, key.as_deref(), now)
                    .map_err(pk_error)?;
                if up.applied {
                    self.stats.events.push(SessionEvent::PkScoreChanged {
                        host,
                        scores: up.scores,
                        at: now,
                    });
                    self.graphics.publish(now, &self.stats);
                }
                Ok(CommandReply::PkScore {
                    applied: up.applied,
                    scores: up.scores,
                    applied_at: now,
                })
            }
            Command::EndPk => {
                self.graphics.pk.end(now).map_err(pk_error)?;
                info!(at = ?now, "PK battle ended early");
                done
            }
            Command::CancelPk => {
                self.graphics.pk.cancel().map_err(pk_error)?;
                info!(at = ?now, "PK match cancelled");
                self.stats.events.push(SessionEvent::PkPhaseChanged {
                    phase: "idle".to_owned(),
                    at: now,
                    outcome: None,
                });
                self.restore_scene(now);
                self.graphics.publish(now, &self.stats);
                done
            }
            Command::SetPkSupporters { team, supporters } => {
                for s in &supporters {
                    if let Some(img) = &s.avatar
                        && !self.images.contains_key(img)
                    {
                        return Err(CommandError::NotFound(format!(
                            "image {img:?} (register the avatar first)"
                        )));
                    }
                }
                self.graphics
                    .pk
                    .set_supporters(team, supporters)
                    .map_err(pk_error)?;
                done
            }
            Command::Stop => done,
        }
    }

    fn start_pk(
        &mut self,
        spec: layouts::pk::PkSpec,
        theme: Option<layouts::pk::PkTheme>,
        now: Duration,
    ) -> Result<CommandReply, CommandError> {
        spec.validate().map_err(pk_error)?;
        if self.graphics.pk.spec().is_some() {
            return Err(CommandError::FailedPrecondition(format!(
                "a PK match is already running (phase {}); end or cancel it first",
                self.graphics.pk.phase().name()
            )));
        }
        for h in spec.hosts() {
            if !self.slots.contains_key(h) {
                return Err(CommandError::NotFound(format!("input {h:?}")));
            }
        }
        if let Some(t) = &theme
            && let Some(f) = &t.family
            && (f.is_empty() || f.len() > 128)
        {
            return Err(CommandError::Invalid(
                "theme.family: 1..=128 bytes".to_owned(),
            ));
        }
        let current = self.layout.scene().clone();
        let scene = pk_scene(&current, &spec);
        self.check_scene_refs(&scene)?;
        let transition = layouts::Transition {
            duration_ms: 400,
            easing: layouts::Easing::EaseInOut,
        };
        self.layout
            .set_scene(scene, Some(transition), now)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        if !matches!(current.layout, layouts::Layout::Pk { .. }) {
            self.graphics.before_pk = Some(current);
        }
        self.graphics.pk.start(spec, now).map_err(pk_error)?;
        if let Some(t) = theme {
            self.graphics.theme = t;
        }
        info!(at = ?now, "PK match started");
        self.stats
            .events
            .push(SessionEvent::SceneApplied { at: now });
        Ok(CommandReply::Done { applied_at: now })
    }

    /// Puts back the scene shown before the match (if its inputs are all still there).
    fn restore_scene(&mut self, now: Duration) {
        let Some(scene) = self.graphics.before_pk.take() else {
            return;
        };
        if self.check_scene_refs(&scene).is_err() {
            warn!("the layout from before the PK match refers to removed inputs; keeping PK");
            return;
        }
        let transition = layouts::Transition {
            duration_ms: 400,
            easing: layouts::Easing::EaseInOut,
        };
        if self.layout.set_scene(scene, Some(transition), now).is_ok() {
            self.stats
                .events
                .push(SessionEvent::SceneApplied { at: now });
        }
    }

    /// Applies due commands; returns true when a Stop was applied.
    fn apply_commands(&mut self, now: Duration) -> bool {
        while let Ok(env) = self.cmd_rx.try_recv() {
            self.pending.push(env);
        }
        let mut stop = false;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].at.is_none_or(|at| at <= now) {
                let env = self.pending.remove(i);
                let is_stop = matches!(env.cmd, Command::Stop);
                let res = self.apply(env.cmd, now);
                if let Err(e) = &res {
                    warn!(error = %e, "command refused");
                }
                stop |= is_stop && res.is_ok();
                let _ = env.reply.send(res);
            } else {
                i += 1;
            }
        }
        stop
    }

    /// Stamps a timed unit with its playout time (and tells the arrival probe of pictures).
    fn place(&mut self, id: &str, t: TimedUnit) -> Option<InputMessage> {
        let slot = self.slots.get_mut(id)?;
        let kind = t.kind();
        let offset = match &t.media {
            TimedMedia::Audio { offset, .. } => *offset,
            TimedMedia::Video(_) => Duration::ZERO,
        };
        let wall_start = self.stats.wall_start.get().copied();
        let pts = self
            .placement
            .place(id, &mut slot.timing, kind, &t.unit, offset, || {
                // Unix time of session time 0, for trusting synchronised sender clocks.
                let since = std::time::Instant::now().saturating_duration_since(wall_start?);
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .checked_sub(since)
            });
        Some(match t.media {
            TimedMedia::Video(mut frame) => {
                frame.pts = pts;
                if let (Some(probe), Some(done)) = (self.stats.probe.get(), t.completed) {
                    probe.note_arrival(id, pts, done);
                }
                InputMessage::Video(frame)
            }
            TimedMedia::Audio { mut block, .. } => {
                block.pts = pts;
                InputMessage::Audio(block)
            }
        })
    }

    /// Publishes each slot's alignment figures (every 100 ms, not per unit).
    fn publish_align_stats(&self) {
        let mut map = self.stats.align.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.slot_ids {
            if let Some(st) = self.placement.stats(id) {
                match map.get_mut(id) {
                    Some(v) => *v = st,
                    None => {
                        map.insert(id.clone(), st);
                    }
                }
            }
        }
    }

    fn handle_message(&mut self, id: &str, msg: InputMessage) {
        let msg = match msg {
            InputMessage::Timed(t) => match self.place(id, t) {
                Some(m) => m,
                None => return,
            },
            m => m,
        };
        let Some(slot) = self.slots.get_mut(id) else {
            return;
        };
        let t = msg.time();
        slot.horizon = Some(slot.horizon.map_or(t, |h| h.max(t)));
        match msg {
            // Placed above.
            InputMessage::Timed(_) => {}
            InputMessage::Video(f) => {
                if slot.current.as_ref().is_some_and(|(c, _)| f.pts < c.pts) {
                    slot.counters.late.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if slot.queue.len() >= self.cfg.input_queue {
                    slot.queue.pop_front();
                    slot.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                slot.queue.push_back(f);
            }
            InputMessage::Audio(a) => {
                let fmt = InputFormat {
                    sample_rate: a.sample_rate,
                    channels: a.channels,
                };
                if slot.audio_fmt != Some(fmt) {
                    if slot.audio_fmt.is_some() {
                        let _ = self.mixer.remove_input(id);
                    }
                    match self.mixer.add_timed_input(id, fmt) {
                        Ok(()) => {
                            slot.audio_fmt = Some(fmt);
                            slot.placer = Some(AudioPlacer::new(fmt.sample_rate, fmt.channels));
                        }
                        Err(e) => {
                            self.mix_errors += 1;
                            if self.mix_errors % 100 == 1 {
                                warn!(input = id, error = %e, "audio format refused");
                            }
                            return;
                        }
                    }
                }
                if let Some(p) = slot.placer.as_mut() {
                    let dropped = p.push(a.pts, a.samples);
                    if dropped > 0 {
                        slot.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
                        warn!(
                            input = id,
                            dropped, "audio waiting past 2 s: dropping the oldest"
                        );
                    }
                }
            }
        }
    }

    /// Hands each input's due audio to the mixer before it mixes the block starting at `ta`
    /// (which runs when `ta + MIX_TICK` is due): everything due before `ta` + the mixer's
    /// timed queue depth, so the mixer's queue head is due at `ta`.
    fn release_audio(&mut self, ta: Duration) {
        let target_s = self.timed_depth().as_secs_f64();
        let lead_s = self.audio_lead().as_secs_f64();
        for (id, slot) in &mut self.slots {
            let Some(p) = slot.placer.as_mut() else {
                continue;
            };
            // Release ahead by the mixer's and encoder's delays, and behind by the wait of
            // the slot's video on the output frame grid, so sound and picture leave together.
            let shift = slot.video_wait.unwrap_or(0.0).clamp(0.0, 1.0) - lead_s;
            let horizon = ta + Duration::from_secs_f64(target_s);
            let before = p.counters();
            let rel = p.release(ta, horizon, shift, &mut self.release_buf);
            let after = p.counters();
            if after != before {
                let c = &slot.counters;
                c.audio_late
                    .fetch_add(after.late_blocks - before.late_blocks, Ordering::Relaxed);
                c.audio_gap_frames
                    .fetch_add(after.gap_frames - before.gap_frames, Ordering::Relaxed);
                c.audio_trimmed_frames.fetch_add(
                    after.trimmed_frames - before.trimmed_frames,
                    Ordering::Relaxed,
                );
                c.audio_stretched_frames.fetch_add(
                    after.stretched_frames - before.stretched_frames,
                    Ordering::Relaxed,
                );
            }
            if rel.frames == 0 {
                continue;
            }
            if let Err(e) = self.mixer.push(id, &self.release_buf) {
                self.mix_errors += 1;
                if self.mix_errors % 100 == 1 {
                    warn!(input = %id, error = %e, "audio block refused");
                }
            }
        }
    }

    /// Real time: takes whatever is queued, never waits.
    fn drain_nonblocking(&mut self) {
        let ids = std::mem::take(&mut self.slot_ids);
        for id in &ids {
            let id = id.as_str();
            while let Some(r) = self
                .slots
                .get(id)
                .and_then(|s| s.rx.as_ref())
                .map(|rx| rx.try_recv())
            {
                match r {
                    Ok(msg) => self.handle_message(id, msg),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.end_slot(id);
                        break;
                    }
                }
            }
        }
        self.slot_ids = ids;
    }

    fn end_slot(&mut self, id: &str) {
        if let Some(s) = self.slots.get_mut(id) {
            if !s.ended {
                info!(input = id, "input source ended");
                self.stats
                    .events
                    .push(SessionEvent::InputEnded { id: id.to_string() });
            }
            s.ended = true;
            s.rx = None;
        }
    }

    /// Offline: waits until every live input has sent content past `needed` (and takes no
    /// more than that, so queues stay short). A source that sends nothing for 10 s of wall
    /// time is treated as ended (logged) so a job never hangs.
    fn drain_until(&mut self, needed: Duration, strictly_after: bool) {
        let ids = std::mem::take(&mut self.slot_ids);
        for id in &ids {
            let id = id.as_str();
            while let Some(slot) = self.slots.get(id) {
                let satisfied = slot.ended
                    || slot.horizon.is_some_and(|h| {
                        if strictly_after {
                            h > needed
                        } else {
                            h >= needed
                        }
                    });
                if satisfied {
                    break;
                }
                let r = match slot.rx.as_ref() {
                    Some(rx) => rx.recv_timeout(Duration::from_secs(10)),
                    None => break,
                };
                match r {
                    Ok(msg) => self.handle_message(id, msg),
                    Err(RecvTimeoutError::Disconnected) => {
                        self.end_slot(id);
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        warn!(input = %id, "offline input sent nothing for 10 s; treating it as ended");
                        self.end_slot(id);
                        break;
                    }
                }
            }
        }
        self.slot_ids = ids;
    }

    /// Moves each slot to its newest frame with pts <= `now`. With the phase lock on, `grid`
    /// is the tick's time on the exact grid (`now` less the offset) and each shown frame's
    /// wait on it is noted.
    fn pick_frames(&mut self, now: Duration, grid: Option<Duration>) {
        for slot in self.slots.values_mut() {
            let mut newest = None;
            while slot.queue.front().is_some_and(|f| f.pts <= now) {
                if newest.is_some() {
                    slot.counters.skipped.fetch_add(1, Ordering::Relaxed);
                }
                newest = slot.queue.pop_front();
            }
            if let Some(f) = newest {
                let wait = now.saturating_sub(f.pts).as_secs_f64();
                if let Some(grid) = grid {
                    slot.phase.push(grid.as_secs_f64() - f.pts.as_secs_f64());
                }
                // Smoothed (hosts at another frame rate wait a little more or less each
                // frame), but restarted when the wait moved by over half a frame for a few
                // frames in a row (the frame grid phase wrapped: budget or clock changes).
                let half = self.half_frame;
                slot.video_wait = Some(match slot.video_wait {
                    Some(w) if (wait - w).abs() > half => {
                        slot.wait_outliers += 1;
                        if slot.wait_outliers >= 3 {
                            slot.wait_outliers = 0;
                            wait
                        } else {
                            w
                        }
                    }
                    Some(w) => {
                        slot.wait_outliers = 0;
                        w + (wait - w) * VIDEO_WAIT_ALPHA
                    }
                    None => wait,
                });
                slot.current = Some((f, self.next_seq));
                slot.shown_since = now;
                self.next_seq += 1;
            }
        }
    }

    /// Steps the output ticks' phase when it is off for the coherent hosts' frames (see
    /// [`super::phase`]): slots that showed a new frame within the last 200 ms and run at
    /// the output rate.
    fn lock_phase(&mut self, now: Duration) {
        let frame = self.grid_phase.frame();
        self.phases.clear();
        for slot in self.slots.values_mut() {
            let fresh = !slot.ended
                && slot.current.is_some()
                && now.saturating_sub(slot.shown_since) <= Duration::from_millis(200);
            if !fresh {
                slot.phase.clear();
                continue;
            }
            if let Some(p) = slot.phase.coherent_min(frame) {
                self.phases.push(p);
            }
        }
        let steps = self.grid_phase.steps();
        let offset = self.grid_phase.update(&self.phases);
        if self.grid_phase.steps() != steps {
            self.stats.grid_steps.fetch_add(1, Ordering::Relaxed);
            info!(
                offset_ms = offset * 1e3,
                hosts = self.phases.len(),
                "output ticks stepped to the hosts' frame phase"
            );
        }
        self.stats
            .grid_offset_us
            .store((offset * 1e6) as i64, Ordering::Relaxed);
    }

    fn video_tick(&mut self, k: u64, now: Duration) -> Result<(), SessionError> {
        let lock = self.cfg.phase_lock && self.cfg.clock == ClockMode::RealTime;
        self.pick_frames(now, lock.then(|| self.cfg.fps.frame_time(k)));
        if lock {
            self.lock_phase(now);
        }
        if self.graphics.advance(now, &self.stats) {
            self.restore_scene(now);
        }
        self.layout.plan_at_into(now, &mut self.plan);
        let mixer = &self.mixer;
        self.graphics.decorate(
            now,
            self.layout.scene(),
            &mut self.plan,
            TextTarget {
                images: &mut self.images,
                renderer: self.renderer.as_mut(),
            },
            |id| mixer.speaking_muted(id).unwrap_or((false, false)),
            &self.stats,
        );
        self.graphics
            .write_meta(now, &self.plan, self.out_frame.meta_mut());
        let plan = &self.plan;
        let view = SlotView {
            slots: &self.slots,
            now,
            stall: self.cfg.stall_timeout,
        };
        let t = Instant::now();
        match self
            .renderer
            .render(plan, &view, &self.images, &mut self.out_frame)
        {
            Ok(_) => {}
            Err(e) => {
                let n = self.stats.render_errors.fetch_add(1, Ordering::Relaxed) + 1;
                warn!(error = %e, frame = k, "render failed; repeating the previous frame");
                if n >= 30 {
                    return Err(SessionError::Render(e.to_string()));
                }
            }
        }
        let ns = t.elapsed().as_nanos() as u64;
        self.stats.render_ns_total.fetch_add(ns, Ordering::Relaxed);
        self.stats.render_ns_max.fetch_max(ns, Ordering::Relaxed);
        let dur = self.tick_time(k + 1).saturating_sub(now);
        self.sink
            .push_video(&self.out_frame, now, dur)
            .map_err(|e| SessionError::Output(e.to_string()))?;
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        self.stats
            .media_ns
            .store(now.as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Session time of video tick `k`: the exact grid (shifted by the whole frames the
    /// phase lock folded out of its offset) plus the phase offset (within half a frame;
    /// a step moves the ticks after it by under half a frame, so ticks stay in order).
    fn tick_time(&self, k: u64) -> Duration {
        let index = k.saturating_add_signed(self.grid_phase.index_shift());
        let grid = self.cfg.fps.frame_time(index);
        let off = self.grid_phase.offset();
        if off >= 0.0 {
            grid + Duration::from_secs_f64(off)
        } else {
            grid.saturating_sub(Duration::from_secs_f64(-off))
        }
    }

    /// How far ahead of their playout time samples enter the mixer: its own output delay
    /// (limiter look-ahead) plus the configured encoder delay.
    fn audio_lead(&self) -> Duration {
        let mix = Duration::from_secs_f64(
            self.mixer.latency_frames() as f64 / f64::from(self.mixer.sample_rate().max(1)),
        );
        mix + self.cfg.audio_lead
    }

    /// Queue depth of the mixer's timed inputs.
    fn timed_depth(&self) -> Duration {
        tuning_ms(self.mixer.tuning().timed_depth_ms)
    }

    fn audio_tick(&mut self, ta: Duration) -> Result<(), SessionError> {
        self.release_audio(ta);
        self.mixer.mix_block(&mut self.audio_buf);
        for ev in self.mixer.take_events() {
            if let mixer::MixerEvent::ActiveSpeakerChanged { from, to, at_block } = ev {
                let at = MIX_TICK * at_block.min(u64::from(u32::MAX)) as u32;
                info!(?from, ?to, ?at, "active speaker changed");
                self.stats
                    .events
                    .push(SessionEvent::ActiveSpeakerChanged { from, to, at });
            }
        }
        self.sink
            .push_audio(&self.audio_buf, ta)
            .map_err(|e| SessionError::Output(e.to_string()))?;
        let blocks = self.stats.audio_blocks.fetch_add(1, Ordering::Relaxed) + 1;
        if blocks.is_multiple_of(10) {
            *self.stats.audio.lock().unwrap_or_else(|e| e.into_inner()) = self.mixer.stats();
            self.publish_align_stats();
        }
        Ok(())
    }

    pub(super) fn run(mut self) -> Result<SessionReport, SessionError> {
        let fps = self.cfg.fps;
        let end = self.cfg.duration;
        let wall_start = *self.stats.wall_start.get_or_init(Instant::now);
        let (mut k, mut m) = (0u64, 0u64);
        let mut result = Ok(());
        info!(canvas = ?self.cfg.canvas, fps = fps.as_f64(), clock = ?self.cfg.clock, "session started");
        loop {
            let tv = self.tick_time(k);
            let ta = MIX_TICK * m as u32;
            let video_left = end.is_none_or(|e| tv < e);
            let audio_left = end.is_none_or(|e| ta < e);
            if !video_left && !audio_left {
                break;
            }
            // The block starting at `ta` is mixed when its end is due: its last sample is
            // then in hand as early as it can be (mixing at `ta` would need the audio a block
            // earlier, and the budget would grow by that block for video too).
            let video_next = video_left && (!audio_left || tv <= ta + MIX_TICK);
            let event = if video_next { tv } else { ta + MIX_TICK };
            match self.cfg.clock {
                ClockMode::RealTime => {
                    let due = wall_start + event;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    self.drain_nonblocking();
                }
                ClockMode::Offline => {
                    if video_next {
                        self.drain_until(tv, true);
                    } else {
                        // Keep every input's mixer queue at its depth, as a perfect
                        // real-time run would: wait for audio up to the release horizon plus
                        // the lead, plus slack (the mixer's plain jitter depth, 40 ms): sources
                        // send in arrival order, which is pts order only up to their jitter,
                        // so a unit past the horizon does not yet mean every unit before it
                        // has arrived. Offline, waiting longer costs nothing.
                        let slack = tuning_ms(self.mixer.tuning().target_depth_ms);
                        let horizon = ta + MIX_TICK + self.timed_depth() + self.audio_lead();
                        self.drain_until(horizon + slack, false);
                    }
                }
            }
            if video_next {
                if self.apply_commands(tv) {
                    break;
                }
                // Real time and more than a frame behind: skip this tick, keep the clock.
                if self.cfg.clock == ClockMode::RealTime
                    && Instant::now() > wall_start + self.tick_time(k + 1)
                {
                    self.stats.late_ticks.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                    continue;
                }
                if let Err(e) = self.video_tick(k, tv) {
                    result = Err(e);
                    break;
                }
                k += 1;
            } else {
                if let Err(e) = self.audio_tick(ta) {
                    result = Err(e);
                    break;
                }
                m += 1;
            }
        }
        // Refuse what is still queued: the session is over.
        for env in self.pending.drain(..) {
            let _ = env.reply.send(Err(CommandError::SessionEnded));
        }
        let finish = self.sink.finish();
        self.stats.ended.store(true, Ordering::Relaxed);
        let report = SessionReport {
            frames: self.stats.frames.load(Ordering::Relaxed),
            audio_blocks: self.stats.audio_blocks.load(Ordering::Relaxed),
            late_ticks: self.stats.late_ticks.load(Ordering::Relaxed),
            grid_steps: self.stats.grid_steps.load(Ordering::Relaxed),
            sink: self.sink.stats(),
            wall: wall_start.elapsed(),
        };
        info!(frames = report.frames, wall = ?report.wall, "session ended");
        result?;
        finish.map_err(|e| SessionError::Output(e.to_string()))?;
        Ok(report)
    }
}
