//! The process signals the commands wait on: SIGINT/SIGTERM to stop, SIGHUP to reload.

/// One message per SIGHUP; several arriving during one reload make one more reload.
pub(super) fn reload_requests() -> tokio::sync::mpsc::Receiver<()> {
    let (requests, receiver) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    let _ = requests.try_send(());
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP; reload needs a restart"),
    }
    #[cfg(not(unix))]
    drop(requests);
    receiver
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
