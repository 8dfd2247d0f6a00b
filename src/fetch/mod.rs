//! Step 1 of the pipeline, "fetch": reads campaigns from the SigmaMind API.
//!
//! [`SigmaMindClient`] owns transport concerns (timeouts, retries with full-jitter
//! backoff and `Retry-After`, a concurrency cap, a request budget, a body size
//! cap); [`wire`] owns the API's drifting JSON shapes. Together they turn every
//! answer into an [`Observation`](crate::observe::Observation), so a failure is
//! always visible as a failure and never reads as "all clear". [`plan`] chooses
//! what a cycle reads (by listing or by id) and [`read`] reads it.

pub mod client;
mod error;
pub mod known;
pub mod lane;
pub mod lenient;
pub mod listing;
pub mod plan;
pub mod read;
pub mod wire;

pub use client::SigmaMindClient;
pub use error::FetchError;
pub use listing::ListingBounds;
pub use plan::ReadPlan;
pub use read::{read_watched, Fetched, Reading};
