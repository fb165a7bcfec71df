//! The tonic implementation of `compositor.v1.Compositor`: each handler validates its
//! request whole (ids, ranges, NaN, empty strings, layouts against the session canvas), then
//! calls the [`ControlBackend`] on tokio's blocking pool and maps its refusals onto statuses.
//! It holds no state of its own apart from the backend and the event-poll period.
//!
//! `WatchEvents` is a per-watcher task polling the backend's event log every
//! [`EVENT_POLL`]; its queue to the client is bounded ([`EVENT_QUEUE`]) and the task ends
//! when the client goes away or the session is deleted.

use std::path::{Component, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use proto::v1 as pb;
use proto::v1::compositor_server::Compositor;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::backend::{
    BackendError, ControlBackend, ImageSource, InputUpdate, LayoutChange, NewSession, PkRequest,
};
use crate::check::{self, invalid};
use crate::layout::{scene_from_proto, transition_from_proto};

/// How often a watcher polls the event log.
pub const EVENT_POLL: Duration = Duration::from_millis(25);
/// Events buffered per watcher before the poller waits for the client.
pub const EVENT_QUEUE: usize = 256;
/// Largest image accepted in a request, bytes.
pub const MAX_IMAGE_BYTES: usize = 32 * 1024 * 1024;
/// How far ahead of the session's time a layout may be scheduled, ms.
pub const MAX_SCHEDULE_AHEAD_MS: u64 = 600_000;
/// How far ahead of the session's time a preview frame may be asked for, ms.
pub const MAX_FRAME_AHEAD_MS: u64 = 60_000;

/// The service; cheap to clone.
#[derive(Clone)]
pub struct ControlService {
    backend: Arc<dyn ControlBackend>,
}

impl std::fmt::Debug for ControlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlService")
    }
}

impl ControlService {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn ControlBackend>) -> Self {
        Self { backend }
    }

    /// Runs `f` with the backend on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ControlBackend) -> Result<T, BackendError> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || f(backend.as_ref()))
            .await
            .map_err(|e| Status::internal(format!("backend task failed: {e}")))?
            .map_err(Status::from)
    }
}

/// Validates a `CreateSessionRequest` whole (the layout against the requested canvas).
pub fn new_session(r: &pb::CreateSessionRequest) -> Result<NewSession, Status> {
    let id = if r.session_id.is_empty() {
        None
    } else {
        check::id("session_id", &r.session_id)?;
        Some(r.session_id.clone())
    };
    let w = check::range_u32("width", check::or(r.width, 1280), 16, 7680)?;
    let h = check::range_u32("height", check::or(r.height, 720), 16, 4320)?;
    if w % 2 == 1 {
        return Err(invalid("width", format!("{w} must be even")));
    }
    if h % 2 == 1 {
        return Err(invalid("height", format!("{h} must be even")));
    }
    let fps_num = check::range_u32("fps_num", check::or(r.fps_num, 30), 1, 120_000)?;
    let fps_den = check::range_u32("fps_den", check::or(r.fps_den, 1), 1, 1001)?;
    let fps = f64::from(fps_num) / f64::from(fps_den);
    if !(1.0..=120.0).contains(&fps) {
        return Err(invalid(
            "fps_num/fps_den",
            format!("{fps_num}/{fps_den} = {fps:.3} fps is out of range 1..=120"),
        ));
    }
    let rate = check::range_u32(
        "sample_rate",
        check::or(r.sample_rate, 48_000),
        8_000,
        192_000,
    )?;
    if rate % 100 != 0 {
        return Err(invalid(
            "sample_rate",
            format!("{rate} must be a multiple of 100"),
        ));
    }
    let channels = check::range_u32("channels", check::or(r.channels, 2), 1, 2)?;
    let lat_min = check::range_u32("latency_min_ms", check::or(r.latency_min_ms, 20), 0, 2000)?;
    let lat_max = check::range_u32(
        "latency_max_ms",
        check::or(r.latency_max_ms, 400.max(lat_min)),
        lat_min,
        5000,
    )?;
    let stall = check::range_u32(
        "stall_timeout_ms",
        check::or(r.stall_timeout_ms, 2000),
        1,
        600_000,
    )?;
    let canvas = layouts::Size::new(w, h);
    let (mut scene, follow) = match r.layout.as_ref() {
        Some(l) => scene_from_proto("layout", l, canvas)?,
        None => (
            layouts::Scene {
                layout: layouts::Layout::Grid {
                    inputs: Vec::new(),
                    tile_aspect: (16, 9),
                },
                style: layouts::Style::default(),
                background: layouts::Background::default(),
                overlays: Vec::new(),
                name_tags: None,
            },
            false,
        ),
    };
    if let Some(c) = r.background.as_ref() {
        let color = layouts::Rgba::new(
            check::byte("background.r", c.r)?,
            check::byte("background.g", c.g)?,
            check::byte("background.b", c.b)?,
            255,
        );
        check::byte("background.a", c.a)?;
        scene.background = match scene.background {
            layouts::Background::Image { image, .. } => layouts::Background::Image { image, color },
            layouts::Background::Color { .. } => layouts::Background::Color { color },
        };
    }
    Ok(NewSession {
        id,
        canvas,
        fps_num,
        fps_den,
        sample_rate: rate,
        channels: channels as u16,
        latency: (
            Duration::from_millis(lat_min.into()),
            Duration::from_millis(lat_max.into()),
        ),
        stall_timeout: Duration::from_millis(stall.into()),
        scene,
        follow_active_speaker: follow,
    })
}

/// A relative path under the image directory: no root, no `..`.
fn server_path(field: &str, value: &str) -> Result<PathBuf, Status> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    check::text(field, value, 4096)?;
    let p = PathBuf::from(value);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(invalid(
            field,
            "must be relative to the server's image directory, without '..'",
        ));
    }
    Ok(p)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Compositor for ControlService {
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let req = new_session(request.get_ref())?;
        let s = self.call(move |b| b.create_session(req)).await?;
        Ok(Response::new(s))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let id = request.into_inner().session_id;
        check::id("session_id", &id)?;
        Ok(Response::new(self.call(move |b| b.get_session(&id)).await?))
    }

    async fn list_sessions(
        &self,
        _request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let sessions = self.call(|b| Ok(b.list_sessions())).await?;
        Ok(Response::new(pb::ListSessionsResponse { sessions }))
    }

    async fn delete_session(
        &self,
        request: Request<pb::DeleteSessionRequest>,
    ) -> Result<Response<pb::DeleteSessionResponse>, Status> {
        let id = request.into_inner().session_id;
        check::id("session_id", &id)?;
        let frames = self.call(move |b| b.delete_session(&id)).await?;
        Ok(Response::new(pb::DeleteSessionResponse { frames }))
    }

    async fn add_input(
        &self,
        request: Request<pb::AddInputRequest>,
    ) -> Result<Response<pb::AddInputResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("input_id", &r.input_id)?;
        check::text("label", &r.label, check::MAX_LABEL_LEN)?;
        let out = self
            .call(move |b| b.add_input(&r.session_id, &r.input_id, r.label))
            .await?;
        Ok(Response::new(out))
    }

    async fn remove_input(
        &self,
        request: Request<pb::RemoveInputRequest>,
    ) -> Result<Response<pb::RemoveInputResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("input_id", &r.input_id)?;
        self.call(move |b| b.remove_input(&r.session_id, &r.input_id))
            .await?;
        Ok(Response::new(pb::RemoveInputResponse {}))
    }

    async fn update_input(
        &self,
        request: Request<pb::UpdateInputRequest>,
    ) -> Result<Response<pb::Input>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("input_id", &r.input_id)?;
        if let Some(l) = &r.label {
            check::text("label", l, check::MAX_LABEL_LEN)?;
        }
        if let Some(v) = r.volume_db {
            check::range_f32("volume_db", v, -60.0, 24.0)?;
        }
        // Empty = clear the placeholder image; else a well-formed image id.
        let placeholder_image = match r.placeholder_image_id {
            None => None,
            Some(p) if p.is_empty() => Some(None),
            Some(p) => {
                check::id("placeholder_image_id", &p)?;
                Some(Some(p))
            }
        };
        let update = InputUpdate {
            label: r.label,
            volume_db: r.volume_db,
            mute: r.mute,
            placeholder_image,
        };
        let out = self
            .call(move |b| b.update_input(&r.session_id, &r.input_id, update))
            .await?;
        Ok(Response::new(out))
    }

    async fn set_layout(
        &self,
        request: Request<pb::SetLayoutRequest>,
    ) -> Result<Response<pb::SetLayoutResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let layout = r
            .layout
            .as_ref()
            .ok_or_else(|| invalid("layout", "is required"))?;
        let transition = transition_from_proto("transition", r.transition.as_ref())?;
        let session = r.session_id.clone();
        let canvas = self.call(move |b| b.canvas(&session)).await?;
        let (scene, follow) = scene_from_proto("layout", layout, canvas)?;
        let change = LayoutChange {
            scene,
            transition,
            at: r.at_ms.map(Duration::from_millis),
            follow_active_speaker: follow,
        };
        let session = r.session_id;
        let at = self
            .call(move |b| {
                if let Some(at) = change.at {
                    let now = b.stats(&session)?.media_time_ms;
                    let at_ms = at.as_millis() as u64;
                    if at_ms > now + MAX_SCHEDULE_AHEAD_MS {
                        return Err(BackendError::Invalid(format!(
                            "at_ms: {at_ms} is more than {MAX_SCHEDULE_AHEAD_MS} ms after the session's time {now} ms"
                        )));
                    }
                }
                b.set_layout(&session, change)
            })
            .await?;
        Ok(Response::new(pb::SetLayoutResponse {
            applied_at_ms: at.as_millis() as u64,
        }))
    }

    async fn register_image(
        &self,
        request: Request<pb::RegisterImageRequest>,
    ) -> Result<Response<pb::Image>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("image_id", &r.image_id)?;
        use pb::register_image_request::Source;
        let source = match r.source {
            None => return Err(invalid("source", "is required: data or server_path")),
            Some(Source::Data(d)) => {
                if d.is_empty() {
                    return Err(invalid("data", "must not be empty"));
                }
                if d.len() > MAX_IMAGE_BYTES {
                    return Err(invalid(
                        "data",
                        format!("is {} bytes; at most {MAX_IMAGE_BYTES} allowed", d.len()),
                    ));
                }
                ImageSource::Bytes(d)
            }
            Some(Source::ServerPath(p)) => ImageSource::ServerPath(server_path("server_path", &p)?),
        };
        let out = self
            .call(move |b| b.register_image(&r.session_id, &r.image_id, source))
            .await?;
        Ok(Response::new(out))
    }

    async fn remove_image(
        &self,
        request: Request<pb::RemoveImageRequest>,
    ) -> Result<Response<pb::RemoveImageResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("image_id", &r.image_id)?;
        self.call(move |b| b.remove_image(&r.session_id, &r.image_id))
            .await?;
        Ok(Response::new(pb::RemoveImageResponse {}))
    }

    async fn add_output(
        &self,
        request: Request<pb::AddOutputRequest>,
    ) -> Result<Response<pb::Output>, Status> {
        let r = request.into_inner();
        let out = crate::output::new_output(&r)?;
        let o = self.call(move |b| b.add_output(&r.session_id, out)).await?;
        Ok(Response::new(o))
    }

    async fn remove_output(
        &self,
        request: Request<pb::RemoveOutputRequest>,
    ) -> Result<Response<pb::RemoveOutputResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        check::id("output_id", &r.output_id)?;
        self.call(move |b| b.remove_output(&r.session_id, &r.output_id))
            .await?;
        Ok(Response::new(pb::RemoveOutputResponse {}))
    }

    async fn list_outputs(
        &self,
        request: Request<pb::ListOutputsRequest>,
    ) -> Result<Response<pb::ListOutputsResponse>, Status> {
        let id = request.into_inner().session_id;
        check::id("session_id", &id)?;
        let outputs = self.call(move |b| b.list_outputs(&id)).await?;
        Ok(Response::new(pb::ListOutputsResponse { outputs }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let session = r.session_id.clone();
        // Unknown session: NOT_FOUND now, not an empty stream.
        self.call(move |b| b.canvas(&session)).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
        let backend = self.backend.clone();
        let session = r.session_id;
        let mut last = r.after_seq;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVENT_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if tx.is_closed() {
                    return;
                }
                let events = match backend.events_since(&session, last) {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if let Some(first) = events.first() {
                    // A resumed watcher whose next event was already dropped from the log
                    // learns which ones it missed.
                    if last > 0 && first.seq > last + 1 {
                        let lost = pb::Event {
                            seq: first.seq - 1,
                            kind: Some(pb::event::Kind::EventsLost(pb::EventsLost {
                                first_seq: last + 1,
                                last_seq: first.seq - 1,
                            })),
                        };
                        if tx.send(Ok(lost)).await.is_err() {
                            return;
                        }
                    }
                }
                for ev in events {
                    last = ev.seq;
                    if tx.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn start_pk(
        &self,
        request: Request<pb::StartPkRequest>,
    ) -> Result<Response<pb::PkState>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let req = crate::pk::start(&r)?;
        let session = r.session_id;
        let out = self
            .call(move |b| {
                if let PkRequest::Start { at: Some(at), .. } = &req {
                    let now = b.stats(&session)?.media_time_ms;
                    let at_ms = at.as_millis() as u64;
                    if at_ms > now + MAX_FRAME_AHEAD_MS {
                        return Err(BackendError::Invalid(format!(
                            "start_at_ms: {at_ms} is more than {MAX_FRAME_AHEAD_MS} ms after the session's time {now} ms"
                        )));
                    }
                }
                b.pk(&session, req)
            })
            .await?;
        Ok(Response::new(out.1))
    }

    async fn update_pk_score(
        &self,
        request: Request<pb::UpdatePkScoreRequest>,
    ) -> Result<Response<pb::PkScoreResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let req = crate::pk::score(&r)?;
        let (applied, state) = self.call(move |b| b.pk(&r.session_id, req)).await?;
        Ok(Response::new(pb::PkScoreResponse {
            applied,
            state: Some(state),
        }))
    }

    async fn end_pk(
        &self,
        request: Request<pb::EndPkRequest>,
    ) -> Result<Response<pb::PkState>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let out = self
            .call(move |b| b.pk(&r.session_id, PkRequest::End))
            .await?;
        Ok(Response::new(out.1))
    }

    async fn cancel_pk(
        &self,
        request: Request<pb::CancelPkRequest>,
    ) -> Result<Response<pb::PkState>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let out = self
            .call(move |b| b.pk(&r.session_id, PkRequest::Cancel))
            .await?;
        Ok(Response::new(out.1))
    }

    async fn set_pk_supporters(
        &self,
        request: Request<pb::SetPkSupportersRequest>,
    ) -> Result<Response<pb::PkState>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let req = crate::pk::supporters(&r)?;
        let out = self.call(move |b| b.pk(&r.session_id, req)).await?;
        Ok(Response::new(out.1))
    }

    async fn set_mixer(
        &self,
        request: Request<pb::SetMixerRequest>,
    ) -> Result<Response<pb::SetMixerResponse>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let change = crate::pk::mixer_change(&r)?;
        self.call(move |b| b.set_mixer(&r.session_id, change))
            .await?;
        Ok(Response::new(pb::SetMixerResponse {}))
    }

    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::SessionStats>, Status> {
        let id = request.into_inner().session_id;
        check::id("session_id", &id)?;
        Ok(Response::new(self.call(move |b| b.stats(&id)).await?))
    }

    async fn get_frame(
        &self,
        request: Request<pb::GetFrameRequest>,
    ) -> Result<Response<pb::Frame>, Status> {
        let r = request.into_inner();
        check::id("session_id", &r.session_id)?;
        let frame = self
            .call(move |b| {
                if let Some(at) = r.at_or_after_ms {
                    let now = b.stats(&r.session_id)?.media_time_ms;
                    if at > now + MAX_FRAME_AHEAD_MS {
                        return Err(BackendError::Invalid(format!(
                            "at_or_after_ms: {at} is more than {MAX_FRAME_AHEAD_MS} ms after the session's time {now} ms"
                        )));
                    }
                }
                b.frame(&r.session_id, r.at_or_after_ms.map(Duration::from_millis))
            })
            .await?;
        Ok(Response::new(frame))
    }
}
