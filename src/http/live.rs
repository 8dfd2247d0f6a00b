//! The live board: one task per daemon reads the store's
//! [`CommitMarker`] a few times a second and, when it moves, tells every open
//! page through a `watch` channel; each page holds a server-sent-events stream
//! (`GET /board/live`, one "commit" event per change) and fetches what it
//! shows again. The marker is read from the store, so a standby replica on a
//! shared PostgreSQL store stays live from the leader's commits without ever
//! polling the API.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::api::json_error;
use super::{Limits, StreamSlots};
use crate::commit::{CommitMarker, Store};

/// How often the marker is read: an update reaches an open page within about
/// this plus one page fetch.
pub const MARKER_PERIOD: Duration = Duration::from_millis(250);
/// How often a session's stream asks whether the session is still open,
/// between commits (it also asks before each event).
const SESSION_CHECK: Duration = Duration::from_secs(5);

/// What the stream handler needs: the commits feed and the bound on streams.
#[derive(Clone)]
pub struct Live {
    commits: watch::Receiver<u64>,
    slots: StreamSlots,
}

impl Live {
    /// Start watching `store` until `stop` is cancelled (the streams then end).
    pub fn start(store: Store, limits: &Limits, stop: CancellationToken) -> Self {
        let (sender, commits) = watch::channel(0u64);
        tokio::spawn(watch_marker(store, sender, stop));
        Self {
            commits,
            slots: StreamSlots::new(limits),
        }
    }

    /// A feed that never announces anything (for routers built without a daemon).
    pub fn idle(limits: &Limits) -> Self {
        let (sender, commits) = watch::channel(0u64);
        // Kept open for the life of the process: the streams stay open, silent.
        std::mem::forget(sender);
        Self {
            commits,
            slots: StreamSlots::new(limits),
        }
    }
}

async fn watch_marker(store: Store, sender: watch::Sender<u64>, stop: CancellationToken) {
    let mut last: Option<CommitMarker> = None;
    let mut failing = false;
    let mut commits = 0u64;
    let mut ticks = tokio::time::interval(MARKER_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store.commit_marker().await {
            Ok(marker) => {
                if failing {
                    tracing::info!("live board: the state store answers again");
                    failing = false;
                }
                if last.as_ref().is_some_and(|seen| *seen != marker) {
                    commits += 1;
                    sender.send_replace(commits);
                }
                last = Some(marker);
            }
            Err(error) => {
                // Said once, not four times a second; the pages simply stay as they are.
                if !failing {
                    tracing::warn!(%error, "live board: cannot read the store's commit marker; open pages stop updating until it answers");
                    failing = true;
                }
            }
        }
    }
}

/// `GET /board/live`: server-sent events, one `commit` per change, until the
/// client goes away or the daemon stops. 503 when every stream slot is taken.
pub async fn stream(
    State(live): State<Live>,
    session: Option<axum::Extension<super::access::SessionAlive>>,
) -> Response {
    let Some(permit) = live.slots.try_open() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live pages are open; this page still works, reload it to refresh",
        );
    };
    // A browser session's stream ends once the session does (a logout, its
    // expiry, a reload that removed the user); Basic, Bearer and open
    // callers' streams last as long as the client stays.
    let alive = move || session.as_ref().map_or(true, |session| session.alive());
    let events = commit_events(live.commits, permit, alive);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn commit_events(
    mut commits: watch::Receiver<u64>,
    permit: tokio::sync::OwnedSemaphorePermit,
    alive: impl Fn() -> bool + Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    commits.mark_unchanged();
    // The permit lives inside the stream: the slot frees when the client leaves.
    stream::unfold(
        (commits, permit, alive),
        |(mut commits, permit, alive)| async move {
            loop {
                tokio::select! {
                    changed = commits.changed() => {
                        changed.ok()?;
                        if !alive() {
                            return None;
                        }
                        let n = *commits.borrow_and_update();
                        let event = Event::default().event("commit").data(n.to_string());
                        return Some((Ok(event), (commits, permit, alive)));
                    }
                    () = tokio::time::sleep(SESSION_CHECK) => {
                        if !alive() {
                            return None;
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use futures::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn a_stream_ends_at_the_first_commit_after_its_session_did() {
        let (sender, commits) = watch::channel(0);
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let flag = open.clone();
        let events = commit_events(commits, permit, move || flag.load(Ordering::SeqCst));
        let mut events = Box::pin(events);
        sender.send(1).unwrap();
        assert!(events.next().await.is_some(), "a commit while open is sent");
        open.store(false, Ordering::SeqCst);
        sender.send(2).unwrap();
        assert!(
            events.next().await.is_none(),
            "the stream ended with the session"
        );
    }
}
