//! # compositor-devkit — tools around the server, never linked into it
//!
//! [`synthetic`], [`testkit`], [`pk_goldens`] and [`ocr`] (test hosts, helpers, the PK golden cases, reading frames back), [`process`], [`pem`] and
//! [`netem`] (child-process guards, test certificates, an impairing UDP relay), [`measure`] (stamped hosts, the
//! sync analyzer, the added-latency log), [`demo`] (`compositor demo`), [`stream`] (a live
//! session to real outputs, `compositor stream`), [`bench`] and [`bench_e2e`] (benchmarks).
//! Used by the binary's subcommands, the examples and the tests.

pub mod bench;
pub mod bench_e2e;
pub mod demo;
pub mod measure;
pub mod netem;
pub mod ocr;
pub mod pem;
pub mod pk_goldens;
pub mod process;
pub mod stream;
pub mod synthetic;
pub mod testkit;
