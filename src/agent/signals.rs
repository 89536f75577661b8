//! Unix signals: SIGHUP reloads; SIGTERM and SIGINT shut down gracefully.

use super::control::{Control, ReloadCause};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Installs the handlers and forwards signals to the control loop.
pub fn spawn(tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = hup.recv() => {
                    info!("SIGHUP: reloading");
                    super::systemd::reloading();
                    let _ = tx.send(Control::Reload { cause: ReloadCause::Signal, reply: None }).await;
                    super::systemd::notify("READY=1");
                }
                Some(()) = term.recv() => {
                    info!("SIGTERM: shutting down");
                    let _ = tx.send(Control::Shutdown).await;
                }
                Some(()) = int.recv() => {
                    info!("SIGINT: shutting down");
                    let _ = tx.send(Control::Shutdown).await;
                }
                else => {
                    warn!("signal streams closed");
                    break;
                }
            }
        }
    });
    Ok(())
}
