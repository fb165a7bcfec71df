//! Active-speaker detection with a hold time.
//!
//! Time is the mix block counter (one tick per `mix_block`, 10 ms at the default rate).
//! Each block the caller reports which inputs are speaking (VAD) and their smoothed level;
//! the *dominant* input is the loudest speaking one (the current speaker keeps dominance
//! unless another speaker is `margin_db` louder). The decision switches to a new input only
//! after it has been dominant for `hold_blocks` blocks in a row; blocks where nobody speaks
//! pause the count, blocks where the current speaker (or another candidate) dominates reset
//! it. Hence interjections shorter than the hold never switch. A removed current speaker
//! switches the decision to `None` at once.

/// Per-input observation for one block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observation<'a> {
    /// Input id.
    pub id: &'a str,
    /// VAD decision.
    pub speaking: bool,
    /// Smoothed level, dBFS.
    pub level_db: f32,
}

/// Active-speaker state machine.
#[derive(Debug, Clone)]
pub(crate) struct SpeakerDetector {
    hold_blocks: u64,
    margin_db: f32,
    current: Option<String>,
    candidate: Option<String>,
    candidate_blocks: u64,
}

impl SpeakerDetector {
    /// Detector switching after `hold_blocks` blocks of dominance.
    pub(crate) fn new(hold_blocks: u64, margin_db: f32) -> Self {
        Self {
            hold_blocks: hold_blocks.max(1),
            margin_db,
            current: None,
            candidate: None,
            candidate_blocks: 0,
        }
    }

    /// Current active speaker.
    pub(crate) fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Changes the hold time.
    pub(crate) fn set_hold_blocks(&mut self, hold_blocks: u64) {
        self.hold_blocks = hold_blocks.max(1);
    }

    /// Feeds one block; returns `Some((from, to))` when the decision changes.
    pub(crate) fn update<'a, I>(&mut self, obs: I) -> Option<(Option<String>, Option<String>)>
    where
        I: Iterator<Item = Observation<'a>> + Clone,
    {
        let cur_level = self.current.as_deref().and_then(|c| {
            obs.clone()
                .find(|o| o.id == c && o.speaking)
                .map(|o| o.level_db)
        });
        let mut best: Option<Observation<'a>> = None;
        for o in obs.filter(|o| o.speaking) {
            if best.is_none_or(|b| o.level_db > b.level_db) {
                best = Some(o);
            }
        }
        let dominant = match (best, cur_level) {
            (None, _) => None,
            (Some(b), Some(cl)) if Some(b.id) != self.current.as_deref() => {
                if b.level_db > cl + self.margin_db {
                    Some(b.id)
                } else {
                    self.current.as_deref()
                }
            }
            (Some(b), _) => Some(b.id),
        };
        let Some(dom) = dominant else {
            return None; // silence: pause the count
        };
        if Some(dom) == self.current.as_deref() {
            self.candidate = None;
            self.candidate_blocks = 0;
            return None;
        }
        if self.candidate.as_deref() == Some(dom) {
            self.candidate_blocks += 1;
        } else {
            self.candidate = Some(dom.to_string());
            self.candidate_blocks = 1;
        }
        if self.candidate_blocks >= self.hold_blocks {
            let to = self.candidate.take();
            self.candidate_blocks = 0;
            let from = std::mem::replace(&mut self.current, to.clone());
            return Some((from, to));
        }
        None
    }

    /// Forgets an input; returns a change if it was the current speaker.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(Option<String>, Option<String>)> {
        if self.candidate.as_deref() == Some(id) {
            self.candidate = None;
            self.candidate_blocks = 0;
        }
        if self.current.as_deref() == Some(id) {
            let from = self.current.take();
            return Some((from, None));
        }
        None
    }
}
