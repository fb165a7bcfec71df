//! [`ControlBackend`] for the [`SessionManager`]: each validated gRPC request becomes engine
//! commands (`SessionHandle::command`, or `submit(cmd, Some(at))` for a scheduled layout) and
//! bookkeeping updates made only after the engine accepted the change, so a refusal changes
//! nothing. Called on tokio's blocking pool; a command blocks up to one frame.

use std::sync::Arc;
use std::time::Duration;

use control_api::BackendError;
use control_api::backend::{
    ControlBackend, ImageSource, InputUpdate, LayoutChange, MixerChange, NewOutput, NewSession,
    PkRequest,
};
use proto::v1 as pb;

use super::convert;
use super::managed::{Managed, Slot};
use super::manager::{SessionManager, from_command, random_token, wait_at};
use compositor_core::frame::ColorMatrix;
use compositor_core::session::{Command, CommandReply};

/// How long a preview request waits beyond the requested time.
const FRAME_WAIT_SLACK: Duration = Duration::from_secs(5);

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SessionManager {
    fn session_proto(&self, m: &Managed) -> pb::Session {
        let stats = m.handle.stats();
        let book = m.book();
        let s = &m.spec;
        pb::Session {
            session_id: m.id.clone(),
            width: s.canvas.w,
            height: s.canvas.h,
            fps_num: s.fps_num,
            fps_den: s.fps_den,
            sample_rate: s.sample_rate,
            channels: s.channels.into(),
            latency_min_ms: ms(s.latency.0) as u32,
            latency_max_ms: ms(s.latency.1) as u32,
            stall_timeout_ms: ms(s.stall_timeout) as u32,
            media_time_ms: ms(stats.media_time),
            inputs: book
                .inputs
                .iter()
                .map(|(id, slot)| self.input_proto(&m.id, id, slot))
                .collect(),
            image_ids: book.images.keys().cloned().collect(),
            outputs: m.outputs.list().iter().map(convert::output).collect(),
            layout: Some(control_api::layout::scene_to_proto(
                &book.scene,
                book.follow_speaker,
            )),
            ended: stats.ended,
        }
    }

    fn input_proto(&self, session: &str, id: &str, slot: &Slot) -> pb::Input {
        pb::Input {
            input_id: id.to_owned(),
            label: slot.label.clone(),
            volume_db: slot.volume_db,
            mute: slot.mute,
            whip_url: self.whip_url(session, id),
            placeholder_image_id: slot.placeholder_image.clone().unwrap_or_default(),
        }
    }
}

fn done_at(reply: CommandReply) -> Duration {
    match reply {
        CommandReply::Done { applied_at } | CommandReply::PkScore { applied_at, .. } => applied_at,
        CommandReply::Input(_) => Duration::ZERO,
    }
}

impl ControlBackend for SessionManager {
    fn create_session(&self, req: NewSession) -> Result<pb::Session, BackendError> {
        let m = self.create(req)?;
        Ok(self.session_proto(&m))
    }

    fn get_session(&self, id: &str) -> Result<pb::Session, BackendError> {
        let m = self.get(id)?;
        Ok(self.session_proto(&m))
    }

    fn list_sessions(&self) -> Vec<pb::Session> {
        self.all().iter().map(|m| self.session_proto(m)).collect()
    }

    fn delete_session(&self, id: &str) -> Result<u64, BackendError> {
        self.delete(id)
    }

    fn canvas(&self, session: &str) -> Result<layouts::Size, BackendError> {
        Ok(self.get(session)?.spec.canvas)
    }

    fn add_input(
        &self,
        session: &str,
        input: &str,
        label: String,
    ) -> Result<pb::AddInputResponse, BackendError> {
        let m = self.get(session)?;
        let mut book = m.book();
        if book.inputs.contains_key(input) {
            return Err(BackendError::AlreadyExists(format!("input {input:?}")));
        }
        let sender = m.handle.add_input(input).map_err(from_command)?;
        if !label.is_empty()
            && let Err(e) = m.handle.command(Command::SetLabel {
                id: input.into(),
                label: label.clone(),
            })
        {
            let _ = m.handle.command(Command::RemoveInput { id: input.into() });
            return Err(from_command(e));
        }
        let slot = Slot {
            label,
            token: random_token(32),
            sender,
            volume_db: 0.0,
            mute: false,
            placeholder_image: None,
        };
        let out = pb::AddInputResponse {
            input: Some(self.input_proto(session, input, &slot)),
            whip_url: self.whip_url(session, input),
            bearer_token: slot.token.clone(),
        };
        book.inputs.insert(input.to_owned(), slot);
        tracing::info!(session, input, "input slot added");
        Ok(out)
    }

    fn remove_input(&self, session: &str, input: &str) -> Result<(), BackendError> {
        let m = self.get(session)?;
        let mut book = m.book();
        if !book.inputs.contains_key(input) {
            return Err(BackendError::NotFound(format!("input {input:?}")));
        }
        m.handle
            .command(Command::RemoveInput { id: input.into() })
            .map_err(from_command)?;
        book.inputs.remove(input);
        Ok(())
    }

    fn update_input(
        &self,
        session: &str,
        input: &str,
        update: InputUpdate,
    ) -> Result<pb::Input, BackendError> {
        let m = self.get(session)?;
        let mut book = m.book();
        let Some(slot) = book.inputs.get(input).cloned() else {
            return Err(BackendError::NotFound(format!("input {input:?}")));
        };
        // The label goes last (it cannot be refused once the input exists and the text is
        // valid, which the service checked), so a refusal below leaves it unchanged.
        if let Some(image) = &update.placeholder_image {
            m.handle
                .command(Command::SetPlaceholder {
                    id: input.into(),
                    image: image.clone(),
                })
                .map_err(from_command)?;
        }
        // All or nothing: a later refusal puts the placeholder back.
        let undo_placeholder = || {
            if update.placeholder_image.is_some() {
                let _ = m.handle.command(Command::SetPlaceholder {
                    id: input.into(),
                    image: slot.placeholder_image.clone(),
                });
            }
        };
        if let Some(db) = update.volume_db
            && let Err(e) = m.handle.command(Command::SetGain {
                id: input.into(),
                db,
            })
        {
            undo_placeholder();
            return Err(from_command(e));
        }
        if let Some(mute) = update.mute
            && let Err(e) = m.handle.command(Command::SetMute {
                id: input.into(),
                mute,
            })
        {
            // All or nothing: put the gain back.
            if update.volume_db.is_some() {
                let _ = m.handle.command(Command::SetGain {
                    id: input.into(),
                    db: slot.volume_db,
                });
            }
            undo_placeholder();
            return Err(from_command(e));
        }
        if let Some(l) = &update.label
            && let Err(e) = m.handle.command(Command::SetLabel {
                id: input.into(),
                label: l.clone(),
            })
        {
            return Err(from_command(e));
        }
        let slot = book
            .inputs
            .get_mut(input)
            .ok_or_else(|| BackendError::NotFound(format!("input {input:?}")))?;
        if let Some(l) = update.label {
            slot.label = l;
        }
        if let Some(db) = update.volume_db {
            slot.volume_db = db;
        }
        if let Some(mute) = update.mute {
            slot.mute = mute;
        }
        if let Some(image) = update.placeholder_image {
            slot.placeholder_image = image;
        }
        let slot = slot.clone();
        Ok(self.input_proto(session, input, &slot))
    }

    fn set_layout(&self, session: &str, change: LayoutChange) -> Result<Duration, BackendError> {
        let m = self.get(session)?;
        let cmd = Command::SetScene {
            scene: change.scene.clone(),
            transition: change.transition,
        };
        let at = if change.at.is_some() {
            done_at(wait_at(&m.handle, cmd, change.at)?)
        } else {
            // Hold the book so concurrent changes are recorded in the order applied.
            let mut book = m.book();
            let at = done_at(m.handle.command(cmd).map_err(from_command)?);
            book.scene = change.scene;
            book.follow_speaker = change.follow_active_speaker;
            book.transition = change.transition;
            return Ok(at);
        };
        let mut book = m.book();
        book.scene = change.scene;
        book.follow_speaker = change.follow_active_speaker;
        book.transition = change.transition;
        Ok(at)
    }

    fn register_image(
        &self,
        session: &str,
        image: &str,
        source: ImageSource,
    ) -> Result<pb::Image, BackendError> {
        let m = self.get(session)?;
        let rgba = match source {
            ImageSource::Bytes(b) => compositor_core::images::decode_image(&b)
                .map_err(|e| BackendError::Invalid(format!("data: {e}")))?,
            ImageSource::ServerPath(p) => {
                let Some(dir) = &self.settings.image_dir else {
                    return Err(BackendError::FailedPrecondition(
                        "server_path: no image directory is configured on this server (images.dir)"
                            .into(),
                    ));
                };
                let dir = dir.canonicalize().map_err(|e| {
                    BackendError::FailedPrecondition(format!("image directory: {e}"))
                })?;
                let full = dir
                    .join(&p)
                    .canonicalize()
                    .map_err(|e| BackendError::NotFound(format!("server_path {p:?}: {e}")))?;
                if !full.starts_with(&dir) {
                    return Err(BackendError::Invalid(format!(
                        "server_path {p:?}: resolves outside the image directory"
                    )));
                }
                compositor_core::images::load_image(&full)
                    .map_err(|e| BackendError::Invalid(format!("server_path: {e}")))?
            }
        };
        let (w, h) = rgba.dimensions();
        let mut book = m.book();
        m.handle
            .command(Command::RegisterImage {
                id: image.into(),
                image: Arc::new(rgba),
            })
            .map_err(from_command)?;
        book.images.insert(image.to_owned(), (w, h));
        Ok(pb::Image {
            image_id: image.to_owned(),
            width: w,
            height: h,
        })
    }

    fn remove_image(&self, session: &str, image: &str) -> Result<(), BackendError> {
        let m = self.get(session)?;
        let mut book = m.book();
        m.handle
            .command(Command::RemoveImage { id: image.into() })
            .map_err(from_command)?;
        book.images.remove(image);
        Ok(())
    }

    fn add_output(&self, session: &str, output: NewOutput) -> Result<pb::Output, BackendError> {
        let m = self.get(session)?;
        let spec = output;
        let info = m.outputs.add(spec).map_err(from_command)?;
        Ok(convert::output(&info))
    }

    fn remove_output(&self, session: &str, output: &str) -> Result<(), BackendError> {
        let m = self.get(session)?;
        m.outputs.remove(output).map_err(from_command)
    }

    fn list_outputs(&self, session: &str) -> Result<Vec<pb::Output>, BackendError> {
        let m = self.get(session)?;
        Ok(m.outputs.list().iter().map(convert::output).collect())
    }

    fn events_since(&self, session: &str, after: u64) -> Result<Vec<pb::Event>, BackendError> {
        let m = self.get(session)?;
        Ok(m.handle
            .events_since(after)
            .iter()
            .map(|(seq, ev)| convert::event(*seq, ev))
            .collect())
    }

    fn pk(&self, session: &str, req: PkRequest) -> Result<(bool, pb::PkState), BackendError> {
        let m = self.get(session)?;
        let (cmd, at) = match req {
            PkRequest::Start { spec, theme, at } => (Command::StartPk { spec, theme }, at),
            PkRequest::Score { host, change, key } => {
                (Command::UpdatePkScore { host, change, key }, None)
            }
            PkRequest::End => (Command::EndPk, None),
            PkRequest::Cancel => (Command::CancelPk, None),
            PkRequest::Supporters { team, list } => (
                Command::SetPkSupporters {
                    team,
                    supporters: list,
                },
                None,
            ),
        };
        let reply = if at.is_some() {
            wait_at(&m.handle, cmd, at)?
        } else {
            m.handle.command(cmd).map_err(from_command)?
        };
        let applied = !matches!(reply, CommandReply::PkScore { applied: false, .. });
        Ok((applied, convert::pk_state(&m.handle.stats().pk)))
    }

    fn set_mixer(&self, session: &str, change: MixerChange) -> Result<(), BackendError> {
        let m = self.get(session)?;
        // Check every input first so a refusal changes nothing.
        {
            let book = m.book();
            for id in change.solo.iter().chain(&change.unsolo) {
                if !book.inputs.contains_key(id) {
                    return Err(BackendError::NotFound(format!("input {id:?}")));
                }
            }
        }
        let mut done: Vec<(String, bool)> = Vec::new();
        let undo = |done: &[(String, bool)]| {
            for (id, solo) in done {
                let _ = m.handle.command(Command::SetSolo {
                    id: id.clone(),
                    solo: !solo,
                });
            }
        };
        let wanted = change
            .solo
            .iter()
            .map(|id| (id.clone(), true))
            .chain(change.unsolo.iter().map(|id| (id.clone(), false)));
        for (id, solo) in wanted {
            if let Err(e) = m.handle.command(Command::SetSolo {
                id: id.clone(),
                solo,
            }) {
                undo(&done);
                return Err(from_command(e));
            }
            done.push((id, solo));
        }
        if let Some(d) = change.ducking
            && let Err(e) = m.handle.command(Command::SetDucking(d))
        {
            undo(&done);
            return Err(from_command(e));
        }
        Ok(())
    }

    fn stats(&self, session: &str) -> Result<pb::SessionStats, BackendError> {
        let m = self.get(session)?;
        Ok(convert::stats(&m.id, &m.handle.stats(), &m.outputs.list()))
    }

    fn frame(&self, session: &str, at: Option<Duration>) -> Result<pb::Frame, BackendError> {
        let m = self.get(session)?;
        let stats = m.handle.stats();
        if stats.ended {
            return Err(BackendError::FailedPrecondition(
                "the session has ended".into(),
            ));
        }
        let want = at.unwrap_or(stats.media_time + Duration::from_nanos(1));
        let wait = want.saturating_sub(stats.media_time) + FRAME_WAIT_SLACK;
        let rx = m
            .preview
            .request(want, std::time::Instant::now() + wait)
            .ok_or_else(|| {
                BackendError::Exhausted("too many preview requests waiting for this session".into())
            })?;
        let (pts, frame) = rx.recv_timeout(wait).map_err(|_| {
            BackendError::Timeout(format!(
                "no frame at or after {} ms within {} ms",
                ms(want),
                ms(wait)
            ))
        })?;
        let (w, h) = (frame.width(), frame.height());
        let rgb = frame.to_rgb(ColorMatrix::for_height(h));
        let img = image::RgbImage::from_raw(w, h, rgb)
            .ok_or_else(|| BackendError::Internal("frame size mismatch".into()))?;
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| BackendError::Internal(format!("PNG encoding: {e}")))?;
        Ok(pb::Frame {
            pts_ms: ms(pts),
            width: w,
            height: h,
            png,
        })
    }
}
