//! Protection checked and repaired every cycle, from the cycle's own listing.
//!
//! Moving the cursor and the holds at the end of a step is not enough: a step can end half
//! done (the connection breaks after `zfs receive` committed, a daemon is SIGKILLed between the
//! receive and the hold, or between the new cursor and the release of the old one). So every
//! replication attempt compares, per filesystem, what protects the most recent common snapshot
//! with what should, and repairs the difference before running any step:
//!
//! - **receiver**: this lane's last-received hold sits on the receiver's snapshot with the
//!   common guid, and on no other snapshot of the filesystem ([`Receiver::hold_last_received`]);
//! - **sender**: this lane's replication cursor bookmark points at the common version, and no
//!   stale step hold of the lane is left ([`Sender::hint_most_recent_common_ancestor`]).
//!
//! A step hold (`zferry_S_<to guid>_<lane>`) is *stale* once its step's target is no longer a
//! sender snapshot newer than the common one ([`step_hold_is_stale`]): the target was received,
//! or it is gone. A hold whose target is still pending is kept: it protects an interrupted step
//! the receiver can resume.
//!
//! The check costs nothing extra when everything is in place: both listings are the attempt's
//! own (asked with [`ListVersionsRequest::with_holds`], one `zfs holds` per side for the
//! snapshots that carry any hold), and a repair call is made only for a filesystem whose
//! protection differs. Every repair is idempotent (create before release, tolerate existing),
//! so a repair interrupted in turn is finished by the next cycle.
//!
//! # When the connection breaks during a receive
//! The sink closes `zfs receive`'s standard input (it does not kill it) and lets ZFS judge the
//! stream: a stream that was complete commits, and the sink then checks the received guid and
//! places the last-received hold exactly as after an undisturbed receive; an incomplete one
//! fails and, received with `-s`, leaves a resume token that the next cycle resumes. Killing
//! `zfs receive` instead would make the outcome a race between the kill and the commit, and
//! throw away a complete stream as a partial one. Only where the sink itself dies (SIGKILL, or
//! the abort after the shutdown grace period) can a committed snapshot be left without its
//! hold; the next cycle's check repairs that.
//!
//! [`Receiver::hold_last_received`]: crate::endpoint::Receiver::hold_last_received
//! [`Sender::hint_most_recent_common_ancestor`]: crate::endpoint::Sender::hint_most_recent_common_ancestor
//! [`ListVersionsRequest::with_holds`]: crate::endpoint::ListVersionsRequest::with_holds

use crate::endpoint::{FsVersion, VersionKind};

/// What one filesystem's protection needs this cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repairs {
    /// Move the sender's cursor to the common version and release stale step holds.
    pub sender: bool,
    /// Move the receiver's last-received hold to the common snapshot.
    pub receiver: bool,
}

impl Repairs {
    /// Whether anything needs repairing.
    pub fn any(&self) -> bool {
        self.sender || self.receiver
    }
}

/// This lane's protection of one filesystem as the cycle listed it.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    /// The sender's versions of the filesystem.
    pub sender: &'a [FsVersion],
    /// The sender's valid replication cursor, if any.
    pub cursor: Option<&'a FsVersion>,
    /// Target guids of the sender's step holds.
    pub step_holds: &'a [u64],
    /// Guids of the receiver's snapshots carrying the last-received hold.
    pub last_received: &'a [u64],
}

/// What must be repaired so that `common` (the most recent common version, as the sender
/// names it) is protected on both sides. Nothing without a common version.
pub fn repairs(common: Option<&FsVersion>, listed: Listed<'_>) -> Repairs {
    let Some(common) = common else {
        return Repairs::default();
    };
    let cursor_misplaced = listed.cursor.is_none_or(|c| c.guid != common.guid);
    let stale_step_holds = listed
        .step_holds
        .iter()
        .any(|&target| step_hold_is_stale(target, listed.sender, common));
    Repairs {
        sender: cursor_misplaced || stale_step_holds,
        receiver: listed.last_received != [common.guid],
    }
}

/// Whether a step hold whose step targets `target` has outlived its step: the target is not a
/// sender snapshot newer than `common` (it was received, or it no longer exists).
pub fn step_hold_is_stale(target: u64, sender: &[FsVersion], common: &FsVersion) -> bool {
    !sender.iter().any(|v| {
        v.kind == VersionKind::Snapshot && v.guid == target && v.createtxg > common.createtxg
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, guid: u64, createtxg: u64) -> FsVersion {
        FsVersion {
            kind: VersionKind::Snapshot,
            name: name.into(),
            guid,
            createtxg,
            creation: None,
            userrefs: None,
        }
    }

    fn listed<'a>(
        sender: &'a [FsVersion],
        cursor: Option<&'a FsVersion>,
        step_holds: &'a [u64],
        last_received: &'a [u64],
    ) -> Listed<'a> {
        Listed {
            sender,
            cursor,
            step_holds,
            last_received,
        }
    }

    #[test]
    fn protection_in_place_needs_nothing() {
        let versions = [snap("a", 1, 10), snap("b", 2, 20), snap("c", 3, 30)];
        let common = &versions[1];
        // A step hold for the pending @c protects a resumable step: kept.
        let r = repairs(Some(common), listed(&versions, Some(common), &[3], &[2]));
        assert_eq!(r, Repairs::default());
        assert!(!r.any());
    }

    #[test]
    fn missing_or_misplaced_last_received_hold_is_repaired_on_the_receiver() {
        let versions = [snap("a", 1, 10), snap("b", 2, 20)];
        let common = &versions[1];
        for held in [&[][..], &[1], &[1, 2], &[0]] {
            let r = repairs(Some(common), listed(&versions, Some(common), &[], held));
            assert_eq!(
                r,
                Repairs {
                    sender: false,
                    receiver: true
                },
                "hold on {held:?}"
            );
        }
    }

    #[test]
    fn misplaced_cursor_or_stale_step_hold_is_repaired_on_the_sender() {
        let versions = [snap("a", 1, 10), snap("b", 2, 20)];
        let common = &versions[1];
        let old_cursor = &versions[0];
        for (cursor, step_holds) in [
            (None, &[][..]),
            (Some(old_cursor), &[]),
            (Some(common), &[2]),  // the received target's hold
            (Some(common), &[99]), // a target that no longer exists
        ] {
            let r = repairs(Some(common), listed(&versions, cursor, step_holds, &[2]));
            assert_eq!(
                r,
                Repairs {
                    sender: true,
                    receiver: false
                },
                "cursor {cursor:?}, step holds {step_holds:?}"
            );
        }
    }

    #[test]
    fn nothing_to_protect_without_a_common_version() {
        let versions = [snap("a", 1, 10)];
        let r = repairs(None, listed(&versions, None, &[1], &[]));
        assert_eq!(r, Repairs::default());
    }
}
