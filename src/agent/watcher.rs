//! Watches the jobs directory (not its files: editors, Ansible and ConfigMaps replace files by
//! rename) and asks for a reload on any change, noting which entries changed so that the reload
//! can read only those. Falls back to polling when inotify is unavailable.

use super::control::{Control, ReloadCause};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer_opt};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// How the directory is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// inotify, falling back to polling when it is not available.
    Auto,
    /// Polling (for file systems without inotify, such as NFS).
    Poll,
}

/// What changed in the jobs directory since the control loop last looked.
#[derive(Debug, Default)]
pub struct Changes {
    /// Entries of the directory that changed (created, written, renamed, removed).
    pub paths: BTreeSet<PathBuf>,
    /// Something the entries do not capture happened (the directory was replaced, events were
    /// lost): only a pass over the whole directory will do.
    pub whole: bool,
}

/// Changes noted by the watcher and taken by the control loop. A reload message can be dropped
/// when one is already waiting, so the changes travel here rather than in the message: the
/// waiting message's pass takes them all.
pub type Pending = Arc<Mutex<Changes>>;

/// Takes what changed since the last call.
pub fn take(pending: &Pending) -> Changes {
    pending.lock().map_or_else(
        |_| Changes {
            paths: BTreeSet::new(),
            whole: true,
        },
        |mut c| std::mem::take(&mut *c),
    )
}

fn note(pending: &Pending, dir: &Path, events: Option<&[notify_debouncer_full::DebouncedEvent]>) {
    let Ok(mut changes) = pending.lock() else {
        return;
    };
    let Some(events) = events else {
        changes.whole = true;
        return;
    };
    for e in events {
        if e.need_rescan() {
            changes.whole = true;
        }
        for path in &e.paths {
            match (path.parent(), path.file_name()) {
                (Some(parent), Some(name)) if parent == dir => {
                    changes.paths.insert(dir.join(name));
                }
                _ => changes.whole = true,
            }
        }
    }
}

/// How often the poll watcher looks at the directory.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Longest wait between the end of the debounce window and the reload.
const MAX_TICK: Duration = Duration::from_millis(20);

/// How often the debouncer checks for quiet files. notify-debouncer-full checks on a fixed tick
/// (a quarter of the window by default: 125 ms on top of a 500 ms window); a short tick bounds that
/// extra wait, and an idle tick costs a lock and an empty scan.
fn debounce_tick(debounce: Duration) -> Duration {
    (debounce / 4).clamp(Duration::from_millis(1), MAX_TICK)
}

/// Shortest debounce window: with none, the debouncer would check on a zero tick, spinning a core.
const MIN_DEBOUNCE: Duration = Duration::from_millis(10);

/// How often the watcher checks that the directory it watches is still the one at the path.
const RECHECK: Duration = Duration::from_secs(2);

// Held only to keep the watcher thread alive; dropping it stops watching.
#[allow(dead_code)]
enum Active {
    Inotify(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, RecommendedCache>),
}

/// Starts watching `dir`; returns whether inotify is in use (false: polling). A `debounce`
/// below [`MIN_DEBOUNCE`] is raised to it.
pub fn spawn(
    dir: PathBuf,
    debounce: Duration,
    mode: WatchMode,
    tx: mpsc::Sender<Control>,
    pending: Pending,
) -> bool {
    let debounce = debounce.max(MIN_DEBOUNCE);
    let (active, inotify) = start(&dir, debounce, mode, &tx, &pending);
    tokio::spawn(async move {
        let mut active = active;
        let mut watched = inode(&dir);
        loop {
            tokio::time::sleep(RECHECK).await;
            // A directory that was removed and created again is a new inode: watch it afresh.
            let now = inode(&dir);
            if now != watched {
                info!(dir = %dir.display(), "jobs directory replaced or (re)appeared; watching it again");
                drop(active.take());
                let (next, _) = start(&dir, debounce, mode, &tx, &pending);
                active = next;
                watched = now;
                note(&pending, &dir, None);
                let _ = tx.try_send(Control::Reload {
                    cause: ReloadCause::Watcher,
                    reply: None,
                });
            }
            if tx.is_closed() {
                break;
            }
        }
    });
    inotify
}

fn inode(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

fn start(
    dir: &Path,
    debounce: Duration,
    mode: WatchMode,
    tx: &mpsc::Sender<Control>,
    pending: &Pending,
) -> (Option<Active>, bool) {
    if !dir.is_dir() {
        return (None, mode == WatchMode::Auto);
    }
    let handler = {
        let tx = tx.clone();
        let pending = Arc::clone(pending);
        let dir = dir.to_path_buf();
        move |result: DebounceEventResult| match result {
            // The changed entries are noted before the message is sent: a full channel means a
            // reload is already waiting, and its pass takes them.
            // Reads (ours included: every reload opens the files) are not changes.
            Ok(events)
                if events
                    .iter()
                    .any(|e| !matches!(e.kind, notify::EventKind::Access(_))) =>
            {
                let changed: Vec<_> = events
                    .into_iter()
                    .filter(|e| !matches!(e.kind, notify::EventKind::Access(_)))
                    .collect();
                note(&pending, &dir, Some(&changed));
                let _ = tx.try_send(Control::Reload {
                    cause: ReloadCause::Watcher,
                    reply: None,
                });
            }
            Ok(_) => {}
            Err(errors) => {
                for e in errors {
                    warn!("watching the jobs directory: {e}");
                }
                note(&pending, &dir, None);
                let _ = tx.try_send(Control::Reload {
                    cause: ReloadCause::Watcher,
                    reply: None,
                });
            }
        }
    };
    if mode == WatchMode::Auto {
        match new_debouncer_opt::<_, RecommendedWatcher, RecommendedCache>(
            debounce,
            Some(debounce_tick(debounce)),
            handler.clone(),
            RecommendedCache::new(),
            notify::Config::default(),
        )
        .and_then(|mut d| d.watch(dir, RecursiveMode::NonRecursive).map(|()| d))
        {
            Ok(d) => return (Some(Active::Inotify(d)), true),
            Err(e) => {
                let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
                    || matches!(&e.kind, notify::ErrorKind::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) || io.raw_os_error() == Some(libc::EMFILE));
                if limit {
                    error!(
                        "inotify limit reached ({e}); raise the sysctls fs.inotify.max_user_watches / fs.inotify.max_user_instances. Polling the jobs directory every {}s instead",
                        POLL_INTERVAL.as_secs()
                    );
                } else {
                    error!(
                        "cannot watch the jobs directory ({e}); polling it every {}s instead",
                        POLL_INTERVAL.as_secs()
                    );
                }
            }
        }
    }
    match new_debouncer_opt::<_, PollWatcher, RecommendedCache>(
        debounce,
        Some(debounce_tick(debounce)),
        handler,
        RecommendedCache::new(),
        notify::Config::default()
            .with_poll_interval(POLL_INTERVAL)
            .with_compare_contents(false),
    )
    .and_then(|mut d| d.watch(dir, RecursiveMode::NonRecursive).map(|()| d))
    {
        Ok(d) => (Some(Active::Poll(d)), false),
        Err(e) => {
            error!(
                "cannot poll the jobs directory either ({e}); only SIGHUP, the API and the periodic rescan reload"
            );
            (None, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_stays_short_and_never_zero() {
        let ms = Duration::from_millis;
        assert_eq!(debounce_tick(ms(500)), MAX_TICK);
        assert_eq!(debounce_tick(ms(40)), ms(10));
        assert_eq!(debounce_tick(MIN_DEBOUNCE), ms(10) / 4);
        assert!(debounce_tick(Duration::ZERO) > Duration::ZERO);
    }
}
