//! campaign-watcher: watches SigmaMind outbound-call campaigns and alerts when they change.
//!
//! The pipeline, one module per step:
//!
//! ```text
//! schedule tick ─► fetch ─► observe ─► diff ─► route ─► commit ─► deliver
//! ```
//!
//! - [`fetch`]: the SigmaMind client and its tolerant wire model;
//! - [`observe`]: `Snapshot` and `Observation`;
//! - [`diff`]: pure state comparison, with debounce and reminders;
//! - [`route`]: rules, silences and quiet hours;
//! - [`commit`]: the state store (states, history, outbox in one transaction);
//! - [`deliver`]: the outbox dispatcher and the channels, with [`render`] for text.
//!
//! [`watcher::Watchers::tick`] runs one cycle of it; [`schedule`] says when,
//! [`daemon`] runs cycles on its ticks and
//! [`reassert`] re-posts active alerts. Which module may import which:
//! `docs/architecture.md`, enforced by `tests/it/layers.rs`.

pub mod commit;
pub mod deliver;
pub mod diff;
pub mod fetch;
pub mod observe;
pub mod render;
pub mod route;

pub mod daemon;
pub mod reassert;
pub mod schedule;
pub mod watcher;

pub mod alert;
pub mod backoff;
pub mod config;
pub mod event;
pub mod metrics;
pub(crate) mod pacing;
pub mod setting;
pub mod state;

pub mod cli;
pub mod crash;
pub mod http;
pub mod lead;
pub mod outbound;
pub mod sim;
pub mod systemd;
pub mod telemetry;
pub mod text;
pub mod window;

#[cfg(test)]
mod fixtures;
