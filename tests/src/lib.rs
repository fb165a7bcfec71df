//! Helpers for the end-to-end tests in `tests/tests/`: locating the built `compositor`
//! binary, temporary output folders, and reading media back with `ffprobe`.
