//! systemd's service notifications (`Type=notify` units): `READY=1` once the daemon listens,
//! `WATCHDOG=1` at half the interval systemd asks for (`WatchdogSec=` sets `WATCHDOG_USEC`), and
//! `STOPPING=1` when shutdown begins. Outside systemd (no `NOTIFY_SOCKET`) every call does
//! nothing.
//!
//! The environment variables are left in place (unsetting them would mutate the environment of
//! a multi-threaded process); children such as hook scripts inherit them, but systemd accepts
//! notifications from the main process only (`NotifyAccess=main`, the default), and
//! `WATCHDOG_PID` names this process, so a child never believes the watchdog is meant for it.
//!
//! The watchdog pings come from a task on the daemon's async runtime: if every worker thread is
//! stuck, the pings stop and systemd restarts the daemon, which loses nothing (every step is
//! resumable, see [`crate::runtime`]).

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

/// Tells systemd the daemon is ready: the control socket and the jobs' listeners are bound.
pub fn notify_ready() {
    send(NotifyState::Ready);
}

/// Tells systemd the daemon is stopping.
pub fn notify_stopping() {
    send(NotifyState::Stopping);
}

/// How often to ping the watchdog: half the interval systemd set for this process, or `None`
/// when it set none.
pub fn watchdog_ping_interval() -> Option<Duration> {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    Some(Duration::from_micros(usec) / 2)
}

/// Pings the watchdog every `interval` until `stopped` turns true.
pub async fn ping_watchdog(interval: Duration, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => send(NotifyState::Watchdog),
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

fn send(state: NotifyState<'_>) {
    if let Err(error) = sd_notify::notify(false, &[state]) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}
