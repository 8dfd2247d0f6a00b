//! A simulated SigmaMind API (axum), for `simulate`, `demo`, tests and benchmarks.
//!
//! It serves the two campaign reads the watcher uses, in the API's drifting
//! shapes, plus an unauthenticated `/admin` API (and [`SimControl`] in-process)
//! to change campaigns and inject faults: error statuses, HTML and non-JSON
//! answers, wrong shapes, delays and oversized bodies, undecodable names and
//! listings that never end.

mod answers;
pub mod campaigns;
mod demo;
mod faults;

use answers::router;
pub use demo::{demo_campaigns, run_demo_script};
use faults::*;
pub use faults::{Fault, FaultKind};

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long `stop` lets in-flight answers (a long `Delay` fault, say) finish before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// No `Debug`: it would print the key.
#[derive(Clone, Default)]
pub struct SimOptions {
    /// Campaigns generated at start (see [`campaigns::generate`]).
    pub campaigns: usize,
    /// When set, API requests must carry this `X-API-Key`.
    pub api_key: Option<String>,
}

/// Campaigns in creation order plus an id index, so lookups and pages never scan or clone everything.
#[derive(Default)]
struct CampaignStore {
    ordered: Vec<Value>,
    position_by_id: HashMap<String, usize>,
    /// Positions per lower-cased status, built on the first filtered list after a change;
    /// without it every filtered page would rescan all campaigns.
    positions_by_status: Option<HashMap<String, Vec<usize>>>,
}

impl CampaignStore {
    fn get(&self, id: &str) -> Option<&Value> {
        self.ordered.get(*self.position_by_id.get(id)?)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        let at = *self.position_by_id.get(id)?;
        self.positions_by_status = None;
        self.ordered.get_mut(at)?.as_object_mut()
    }

    fn upsert(&mut self, id: String, campaign: Value) {
        self.positions_by_status = None;
        match self.position_by_id.get(&id) {
            Some(&at) if at < self.ordered.len() => self.ordered[at] = campaign,
            _ => {
                self.position_by_id.insert(id, self.ordered.len());
                self.ordered.push(campaign);
            }
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        let Some(at) = self.position_by_id.remove(id) else {
            return false;
        };
        self.positions_by_status = None;
        if at >= self.ordered.len() {
            return false;
        }
        self.ordered.remove(at);
        for (offset, campaign) in self.ordered[at..].iter().enumerate() {
            if let Some(moved) = campaign.get("campaignId").and_then(Value::as_str) {
                self.position_by_id.insert(moved.to_string(), at + offset);
            }
        }
        true
    }

    /// One page of campaigns in `status` (any status when `None`), and how many there are in all.
    fn page(&mut self, status: Option<&str>, skip: usize, take: usize) -> (Vec<Value>, usize) {
        let Some(status) = status else {
            let window = self.ordered.iter().skip(skip).take(take).cloned().collect();
            return (window, self.ordered.len());
        };
        let ordered = &self.ordered;
        let by_status = self.positions_by_status.get_or_insert_with(|| {
            let mut by_status: HashMap<String, Vec<usize>> = HashMap::new();
            for (at, campaign) in ordered.iter().enumerate() {
                if let Some(status) = campaign.get("campaignStatus").and_then(Value::as_str) {
                    by_status
                        .entry(status.to_ascii_lowercase())
                        .or_default()
                        .push(at);
                }
            }
            by_status
        });
        let positions = by_status.get(status).map(Vec::as_slice).unwrap_or_default();
        let window = positions
            .iter()
            .skip(skip)
            .take(take)
            .filter_map(|&at| ordered.get(at).cloned())
            .collect();
        (window, positions.len())
    }
}

#[derive(Default)]
struct SimState {
    campaigns: CampaignStore,
    faults: Vec<ActiveFault>,
    inserted_without_id: u64,
}

/// In-process handle on the simulator's data and faults; clones share the same server.
#[derive(Clone, Default)]
pub struct SimControl {
    state: Arc<Mutex<SimState>>,
    requests: Arc<AtomicU64>,
}

impl SimControl {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic in another handler cannot leave the JSON half-written, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Campaign ids in creation order.
    pub fn ids(&self) -> Vec<String> {
        self.lock()
            .campaigns
            .ordered
            .iter()
            .filter_map(|campaign| campaign.get("campaignId").and_then(Value::as_str))
            .map(String::from)
            .collect()
    }

    /// One campaign exactly as the API would send it.
    pub fn raw(&self, id: &str) -> Option<Value> {
        self.lock().campaigns.get(id).cloned()
    }

    /// Every campaign exactly as the API would send it, in creation order.
    pub fn all_raw(&self) -> Vec<Value> {
        self.lock().campaigns.ordered.clone()
    }

    pub fn set_status(&self, id: &str, status: &str) -> bool {
        self.patch(id, json!({ "campaignStatus": status }))
    }

    pub fn set_errors(&self, id: &str, errors: Vec<String>) -> bool {
        self.patch(id, json!({ "errors": errors }))
    }

    /// Shallow-merges raw API fields; `campaignId` is kept, since the id is the campaign's identity.
    pub fn patch(&self, id: &str, fields: Value) -> bool {
        let Value::Object(fields) = fields else {
            return false;
        };
        let mut state = self.lock();
        let Some(campaign) = state.campaigns.get_mut(id) else {
            return false;
        };
        for (key, value) in fields {
            if key != "campaignId" {
                campaign.insert(key, value);
            }
        }
        true
    }

    /// Adds a raw API-shaped campaign, replacing one with the same id; one without an id gets one.
    pub fn insert(&self, campaign: Value) {
        let mut state = self.lock();
        let mut campaign = match campaign {
            Value::Object(fields) => fields,
            other => {
                tracing::warn!(kind = ?other, "simulator ignored a campaign that is not a JSON object");
                return;
            }
        };
        let id = match campaign.get("campaignId").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => {
                state.inserted_without_id += 1;
                let id = format!("camp_sim{:08}", state.inserted_without_id);
                campaign.insert("campaignId".into(), json!(id));
                id
            }
        };
        state.campaigns.upsert(id, Value::Object(campaign));
    }

    /// Afterwards a GET of the id answers 404 and the list omits it.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().campaigns.remove(id)
    }

    pub fn inject(&self, fault: Fault) {
        let remaining = fault.times;
        if remaining == Some(0) {
            return;
        }
        self.lock().faults.push(ActiveFault { fault, remaining });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// API requests served (admin calls not counted).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Consumes one use of the first fault that applies to this request.
    fn take_fault(&self, campaign_id: Option<&str>) -> Option<FaultKind> {
        let mut state = self.lock();
        let at = state.faults.iter().position(|active| {
            !active.fault.kind.is_standing()
                && match &active.fault.campaign {
                    None => true,
                    Some(target) => campaign_id == Some(target.as_str()),
                }
        })?;
        let kind = state.faults[at].fault.kind.clone();
        if let Some(remaining) = &mut state.faults[at].remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                state.faults.remove(at);
            }
        }
        Some(kind)
    }
}

/// A running simulator; stops on [`SimServer::stop`] or when dropped.
pub struct SimServer {
    pub addr: SocketAddr,
    pub control: SimControl,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// `http://127.0.0.1:PORT` (a wildcard listen address is reached via loopback).
    pub fn base_url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            match self.addr {
                SocketAddr::V4(_) => "127.0.0.1".to_string(),
                SocketAddr::V6(_) => "[::1]".to_string(),
            }
        } else {
            match self.addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            }
        };
        format!("http://{host}:{}", self.addr.port())
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Clone)]
struct AppState {
    control: SimControl,
    api_key: Option<Arc<str>>,
}

/// Binds `listen` (port 0 allowed) and serves in a spawned task until `stop()` or drop.
pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<SimServer> {
    let control = SimControl::default();
    {
        let mut state = control.lock();
        for campaign in campaigns::generate(options.campaigns) {
            if let Some(id) = campaign.get("campaignId").and_then(Value::as_str) {
                let id = id.to_string();
                state.campaigns.upsert(id, campaign);
            }
        }
    }
    let app = router(AppState {
        control: control.clone(),
        api_key: options.api_key.map(Arc::from),
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_requested) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown_requested.await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "simulated SigmaMind API stopped with an error");
        }
    });
    Ok(SimServer {
        addr,
        control,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests;
