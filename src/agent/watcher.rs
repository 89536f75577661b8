//! Watches the jobs directory (not its files: editors, Ansible and ConfigMaps replace files by
//! rename) and asks for a reload once changes have settled, noting which entries changed so that
//! the reload can read only those. Falls back to polling when inotify is unavailable.
//!
//! The debounce is our own (`debounce_loop`): a thread that blocks until an event comes, then
//! waits for the directory to be quiet. notify-debouncer-full, used before, checks for settled
//! events on a fixed tick even when nothing happens: a tick short enough for a prompt reload
//! (20 ms) cost 0.35 % CPU on an idle agent, and its default (a quarter of the window) added up
//! to 125 ms to every reload.

use super::control::{Control, ReloadCause};
use notify::{Event, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

pub use crate::settings::WatchMode;

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

fn note(pending: &Pending, dir: &Path, events: Option<&[Event]>) {
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

/// Shortest debounce window (a burst of events from one `mv` or `kubectl apply` should be one
/// reload).
const MIN_DEBOUNCE: Duration = Duration::from_millis(10);

/// A directory that never settles (a file written continuously) still reloads this many
/// debounce windows after its first change.
const MAX_WAIT_WINDOWS: u32 = 10;

/// How often the watcher checks that the directory it watches is still the one at the path.
const RECHECK: Duration = Duration::from_secs(2);

// Held only to keep the watcher alive; dropping it stops watching and ends its debounce thread.
#[allow(dead_code)]
enum Active {
    Inotify(RecommendedWatcher),
    Poll(PollWatcher),
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
    let (events_tx, events_rx) = channel();
    let on_batch = {
        let tx = tx.clone();
        let pending = Arc::clone(pending);
        let dir = dir.to_path_buf();
        move |events: Vec<Event>, errors: Vec<notify::Error>| {
            for e in &errors {
                warn!("watching the jobs directory: {e}");
            }
            // The changed entries are noted before the message is sent: a full channel means a
            // reload is already waiting, and its pass takes them.
            note(&pending, &dir, errors.is_empty().then_some(&events[..]));
            let _ = tx.try_send(Control::Reload {
                cause: ReloadCause::Watcher,
                reply: None,
            });
        }
    };
    let spawned = std::thread::Builder::new()
        .name("jobs-dir-debounce".into())
        .spawn(move || debounce_loop(&events_rx, debounce, on_batch));
    if let Err(e) = spawned {
        error!(
            "cannot start the jobs directory watcher ({e}); only SIGHUP, the API and the periodic rescan reload"
        );
        return (None, false);
    }
    if mode == WatchMode::Auto {
        match RecommendedWatcher::new(events_tx.clone(), notify::Config::default())
            .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w))
        {
            Ok(w) => return (Some(Active::Inotify(w)), true),
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
    match PollWatcher::new(
        events_tx,
        notify::Config::default()
            .with_poll_interval(POLL_INTERVAL)
            .with_compare_contents(false),
    )
    .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w))
    {
        Ok(w) => (Some(Active::Poll(w)), false),
        Err(e) => {
            error!(
                "cannot poll the jobs directory either ({e}); only SIGHUP, the API and the periodic rescan reload"
            );
            (None, false)
        }
    }
}

/// Adds a watcher item to the batch; false for reads (ours included: every reload opens the
/// files), which are not changes.
fn add(
    item: notify::Result<Event>,
    batch: &mut Vec<Event>,
    errors: &mut Vec<notify::Error>,
) -> bool {
    match item {
        Ok(event) if matches!(event.kind, notify::EventKind::Access(_)) => false,
        Ok(event) => {
            batch.push(event);
            true
        }
        Err(e) => {
            errors.push(e);
            true
        }
    }
}

/// Hands on the watcher's events once `debounce` has passed without a new one (or
/// [`MAX_WAIT_WINDOWS`] windows after the first), as one batch. Blocks while the directory is
/// quiet; returns when the watcher is dropped.
fn debounce_loop(
    events: &Receiver<notify::Result<Event>>,
    debounce: Duration,
    mut on_batch: impl FnMut(Vec<Event>, Vec<notify::Error>),
) {
    let mut batch = Vec::new();
    let mut errors = Vec::new();
    while let Ok(first) = events.recv() {
        if !add(first, &mut batch, &mut errors) {
            continue;
        }
        let started = Instant::now();
        let cap = started + debounce * MAX_WAIT_WINDOWS;
        let mut deadline = started + debounce;
        loop {
            let wait = deadline.min(cap).saturating_duration_since(Instant::now());
            match events.recv_timeout(wait) {
                Ok(item) => {
                    if add(item, &mut batch, &mut errors) {
                        deadline = Instant::now() + debounce;
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        on_batch(std::mem::take(&mut batch), std::mem::take(&mut errors));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::EventKind;
    use notify::event::{AccessKind, CreateKind};
    use std::sync::mpsc::Sender;

    fn created(name: &str) -> notify::Result<Event> {
        Ok(Event::new(EventKind::Create(CreateKind::File)).add_path(PathBuf::from(name)))
    }

    /// Each batch: the events and the number of errors.
    type Batches = Receiver<(Vec<Event>, usize)>;

    /// Runs the loop on its own thread; returns the sender and the batches it delivers.
    fn run(debounce: Duration) -> (Sender<notify::Result<Event>>, Batches) {
        let (tx, rx) = channel();
        let (out_tx, out_rx) = channel();
        std::thread::spawn(move || {
            debounce_loop(&rx, debounce, |events, errors| {
                let _ = out_tx.send((events, errors.len()));
            });
        });
        (tx, out_rx)
    }

    #[test]
    fn a_burst_is_one_batch_after_the_directory_settles() {
        let (tx, batches) = run(Duration::from_millis(200));
        for name in ["a", "b", "c"] {
            tx.send(created(name)).unwrap();
        }
        let (events, errors) = batches.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(errors, 0);
        // Nothing more comes without new events.
        assert!(batches.recv_timeout(Duration::from_millis(400)).is_err());
        tx.send(created("d")).unwrap();
        let (events, _) = batches.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(events[0].paths, [PathBuf::from("d")]);
    }

    #[test]
    fn reads_neither_start_nor_extend_a_batch_and_errors_are_delivered() {
        let (tx, batches) = run(Duration::from_millis(100));
        tx.send(Ok(Event::new(EventKind::Access(AccessKind::Any))))
            .unwrap();
        assert!(batches.recv_timeout(Duration::from_millis(400)).is_err());
        tx.send(Err(notify::Error::generic("lost events"))).unwrap();
        let (events, errors) = batches.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(events.is_empty());
        assert_eq!(errors, 1);
    }

    #[test]
    fn a_directory_that_never_settles_still_reloads() {
        let debounce = Duration::from_millis(50);
        let (tx, batches) = run(debounce);
        let writer = std::thread::spawn(move || {
            // Events every 10 ms for well over MAX_WAIT_WINDOWS windows.
            for _ in 0..200 {
                if tx.send(created("busy")).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let (events, _) = batches.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(!events.is_empty());
        writer.join().unwrap();
    }

    #[test]
    fn the_loop_ends_with_the_watcher() {
        let (tx, rx) = channel::<notify::Result<Event>>();
        let handle = std::thread::spawn(move || debounce_loop(&rx, MIN_DEBOUNCE, |_, _| {}));
        drop(tx);
        handle.join().unwrap();
    }
}
