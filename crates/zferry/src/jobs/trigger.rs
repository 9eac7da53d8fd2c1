//! Wakeups of a job: a run never overlaps itself, and wakeups arriving while a run is going on
//! collapse into exactly one more run.
//!
//! The job's loop owns a [`TriggerRx`]; the snapshotter and the control socket hold clones of the
//! [`Trigger`]. A wakeup may carry a waiter (`zferry signal wakeup --wait`) that is told the
//! outcome of the run that serves it.

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How a run ended, as reported to waiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Whether the run succeeded completely.
    pub succeeded: bool,
    /// What failed, when it did not.
    pub error: Option<String>,
    /// What looks wrong although nothing failed (a filter that matches no dataset).
    pub warnings: Vec<String>,
}

impl RunOutcome {
    /// A successful run.
    pub fn ok() -> RunOutcome {
        RunOutcome {
            succeeded: true,
            error: None,
            warnings: Vec::new(),
        }
    }

    /// A failed run.
    pub fn failed(error: impl Into<String>) -> RunOutcome {
        RunOutcome {
            succeeded: false,
            error: Some(error.into()),
            warnings: Vec::new(),
        }
    }

    /// This outcome with `warnings`.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> RunOutcome {
        self.warnings = warnings;
        self
    }
}

/// Someone waiting for the outcome of the run that serves their wakeup.
pub type Waiter = oneshot::Sender<RunOutcome>;

/// The sending half: wakes the job up.
#[derive(Debug, Clone)]
pub struct Trigger {
    tx: mpsc::UnboundedSender<Option<Waiter>>,
}

/// The job loop's half.
#[derive(Debug)]
pub struct TriggerRx {
    rx: mpsc::UnboundedReceiver<Option<Waiter>>,
}

/// Why [`TriggerRx::wait`] returned.
#[derive(Debug)]
pub enum Wake {
    /// Woken up (or the deadline passed); run once and tell these waiters.
    Run(Vec<Waiter>),
    /// Every [`Trigger`] is gone: the job is shutting down.
    Closed,
}

/// A connected pair.
pub fn trigger() -> (Trigger, TriggerRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Trigger { tx }, TriggerRx { rx })
}

impl Trigger {
    /// Asks for a run; returns `false` when the job is gone.
    pub fn wake(&self) -> bool {
        self.tx.send(None).is_ok()
    }

    /// Asks for a run and returns a receiver for its outcome (`None` when the job is gone).
    pub fn wake_and_wait(&self) -> Option<oneshot::Receiver<RunOutcome>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Some(tx)).ok().map(|()| rx)
    }
}

impl TriggerRx {
    /// Waits for a wakeup or for `deadline`, then takes every wakeup queued so far, so that all
    /// of them are served by one run.
    pub async fn wait(&mut self, deadline: Option<Instant>) -> Wake {
        let first = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(first)) => first,
                Ok(None) => return Wake::Closed,
                Err(_) => None,
            },
            None => match self.rx.recv().await {
                Some(first) => first,
                None => return Wake::Closed,
            },
        };
        let mut waiters: Vec<Waiter> = first.into_iter().collect();
        while let Ok(more) = self.rx.try_recv() {
            waiters.extend(more);
        }
        Wake::Run(waiters)
    }
}

/// Tells every waiter the outcome.
pub fn notify(waiters: Vec<Waiter>, outcome: &RunOutcome) {
    for w in waiters {
        let _ = w.send(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakeups_during_a_run_collapse_into_one() {
        let (t, mut rx) = trigger();
        t.wake();
        let Wake::Run(w) = rx.wait(None).await else {
            panic!("closed")
        };
        assert!(w.is_empty());
        // "during the run": three wakeups, one with a waiter
        t.wake();
        let waiting = t.wake_and_wait().expect("job alive");
        t.wake();
        let Wake::Run(w) = rx.wait(None).await else {
            panic!("closed")
        };
        assert_eq!(w.len(), 1);
        notify(w, &RunOutcome::failed("boom"));
        assert_eq!(waiting.await.expect("told"), RunOutcome::failed("boom"));
        // nothing queued any more: the deadline decides
        let deadline = Instant::now() + Duration::from_millis(20);
        let Wake::Run(w) = rx.wait(Some(deadline)).await else {
            panic!("closed")
        };
        assert!(w.is_empty());
        assert!(Instant::now() >= deadline);
        drop(t);
        assert!(matches!(rx.wait(None).await, Wake::Closed));
    }
}
