//! campaign-watcher: watches SigmaMind outbound-call campaigns and alerts when they change.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! schedule tick ─► fetch ─► observe ─► diff ─► route ─► commit ─► deliver
//! ```
//!
//! [`watcher::Watcher::tick`] runs one cycle of it; [`daemon`] schedules ticks.

pub mod backoff;
pub mod config;
pub mod crash;
pub mod event;

pub mod commit;
pub mod debounce;
pub mod deliver;
pub mod diff;
pub mod fetch;
pub mod http;
pub mod lead;
pub mod observe;
pub mod ops;
pub mod quiet;
pub mod remind;
pub mod render;
pub mod route;
pub mod silence;

pub mod cli;
pub mod daemon;
pub mod sim;
pub mod systemd;
pub mod telemetry;
pub mod watcher;
