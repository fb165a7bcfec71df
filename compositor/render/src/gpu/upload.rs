//! A persistently reused, CPU-writable staging buffer ("arena") that carries each frame's
//! uniforms and changed input planes to the GPU, and the mapping bookkeeping around it.
//!
//! Life cycle per frame: mapped (writable) → [`Arena::write`]s → `unmap` → copies recorded and
//! submitted → `map_async(Write)` → mapped again once the device is polled. It only grows
//! (rarely: first frames, a bigger input), so steady state allocates nothing.

use std::sync::{Arc, Mutex};

use super::context::GpuError;

/// Row pitch used for buffer↔texture copies.
pub const COPY_ALIGN: u32 = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;

/// Rounds `n` up to a multiple of `a`.
pub fn align_up(n: u64, a: u64) -> u64 {
    n.div_ceil(a) * a
}

/// Shared result slot for a `map_async` callback.
pub(crate) type MapSlot = Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>;

pub(crate) fn map_slot() -> MapSlot {
    Arc::new(Mutex::new(None))
}

/// Takes a map result, if the callback has run.
pub(crate) fn take_map(slot: &MapSlot) -> Option<Result<(), wgpu::BufferAsyncError>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

pub(crate) struct Arena {
    pub buffer: wgpu::Buffer,
    pub capacity: u64,
    mapped: bool,
    pending: bool,
    slot: MapSlot,
}

impl Arena {
    pub fn new(device: &wgpu::Device, capacity: u64) -> Self {
        let capacity = align_up(capacity.max(4096), 4096);
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("upload arena"),
            size: capacity,
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        Arena {
            buffer,
            capacity,
            mapped: true,
            pending: false,
            slot: map_slot(),
        }
    }

    /// Makes sure the arena is mapped and at least `needed` bytes; may wait for the GPU.
    pub fn ensure(&mut self, device: &wgpu::Device, needed: u64) -> Result<(), GpuError> {
        if needed > self.capacity {
            let grown = needed.max(self.capacity + self.capacity / 2);
            tracing::debug!(bytes = grown, "upload arena grows");
            *self = Arena::new(device, grown);
            return Ok(());
        }
        if self.mapped {
            return Ok(());
        }
        if !self.pending {
            return Err(GpuError::Map(
                "upload arena is neither mapped nor being mapped".into(),
            ));
        }
        loop {
            if let Some(res) = take_map(&self.slot) {
                self.pending = false;
                res.map_err(|e| GpuError::Map(e.to_string()))?;
                self.mapped = true;
                return Ok(());
            }
            device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Poll(e.to_string()))?;
        }
    }

    /// Copies `data` into the mapped arena at `offset`, row by row when the pitch differs.
    pub fn write_rows(
        &self,
        offset: u64,
        data: &[u8],
        width: usize,
        rows: usize,
        pitch: usize,
    ) -> Result<(), GpuError> {
        let len = (pitch * rows) as u64;
        if len == 0 {
            return Ok(());
        }
        let mut view = self
            .buffer
            .get_mapped_range_mut(offset..offset + len)
            .map_err(|e| GpuError::Map(e.to_string()))?;
        if pitch == width {
            view.slice(..width * rows)
                .copy_from_slice(&data[..width * rows]);
        } else {
            for r in 0..rows {
                view.slice(r * pitch..r * pitch + width)
                    .copy_from_slice(&data[r * width..(r + 1) * width]);
            }
        }
        Ok(())
    }

    /// Copies raw bytes into the mapped arena.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), GpuError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut view = self
            .buffer
            .get_mapped_range_mut(offset..offset + data.len() as u64)
            .map_err(|e| GpuError::Map(e.to_string()))?;
        view.copy_from_slice(data);
        Ok(())
    }

    /// Unmaps before the copies are submitted.
    pub fn unmap(&mut self) {
        if self.mapped {
            self.buffer.unmap();
            self.mapped = false;
        }
    }

    /// Asks for the arena back after the submission that reads it.
    pub fn remap(&mut self) {
        let s = self.slot.clone();
        self.buffer.map_async(wgpu::MapMode::Write, .., move |r| {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        self.pending = true;
    }
}
