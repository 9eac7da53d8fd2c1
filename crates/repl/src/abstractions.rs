//! zferry's on-disk abstractions: replication cursors, tentative cursors, step holds and
//! last-received holds, each keyed by the replication [`Lane`].
//!
//! # Name format
//! Every abstraction name (a bookmark name after `#`, or a hold tag) has the shape
//!
//! ```text
//! zferry_<T>_<guid>_<lane>[_<label>]
//! ```
//!
//! - `<T>` is one letter: `C` replication cursor bookmark (sender), `T` tentative cursor bookmark
//!   (sender, `guarantee_incremental` during a step), `S` step hold (sender,
//!   `guarantee_resumability` during a step), `R` last-received hold (receiver).
//! - `<guid>` is the guid of the snapshot the abstraction refers to, 16 lower-case hex digits. A
//!   bookmark whose real guid differs, or a hold sitting on a snapshot with another guid, is not
//!   an abstraction of ours and is ignored (it was renamed or tampered with).
//! - `<lane>` is the lane key: the first 8 bytes of SHA-256 over `job NUL peer`, 16 lower-case hex
//!   digits. It is what identifies the lane; two lanes never share it in practice.
//! - `_<label>` is optional and informational: `job` and `peer` joined by `.`, characters outside
//!   ZFS's component set replaced by `_`, cut at [`LABEL_MAX`] bytes. Parsing ignores it, so long
//!   job names and identities never make a name ambiguous, and the label is left out where a
//!   bookmark's full name (`dataset#name`) would exceed ZFS's 255-byte limit.
//!
//! Without the label a name is 42 bytes, with it at most 42 + 1 + [`LABEL_MAX`] = 107 bytes.
//!
//! # zrepl
//! zrepl's abstractions are recognised for migration (listing and releasing on request; the
//! planner may use any bookmark, including zrepl's cursor, as an incremental base because it
//! matches by guid): bookmarks `zrepl_CURSOR_G_<guid>_J_<job>` (and the legacy
//! `zrepl_replication_cursor`), holds `zrepl_STEP_J_<job>` and `zrepl_last_received_J_<job>`.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::endpoint::is_zfs_component_char;

/// Longest informational label in an abstraction name.
pub const LABEL_MAX: usize = 64;

/// Common prefix of all zferry abstraction names.
pub const PREFIX: &str = "zferry_";

/// A replication lane: the sending job and the receiving peer's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lane {
    /// The job name on the side that owns the abstraction (source/push job on a sender,
    /// sink/pull job on a receiver).
    pub job: String,
    /// The peer's identity (for a source: the puller's client identity); may be empty.
    pub peer: String,
}

impl Lane {
    /// A lane for `job` serving `peer`.
    pub fn new(job: impl Into<String>, peer: impl Into<String>) -> Self {
        Self {
            job: job.into(),
            peer: peer.into(),
        }
    }

    /// The lane's key (embedded in names).
    pub fn key(&self) -> LaneKey {
        let mut hasher = Sha256::new();
        hasher.update(self.job.as_bytes());
        hasher.update([0u8]);
        hasher.update(self.peer.as_bytes());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        LaneKey(u64::from_be_bytes(first))
    }

    /// The informational label: `job.peer` (or `job`), sanitised and cut to [`LABEL_MAX`].
    pub fn label(&self) -> String {
        let raw = if self.peer.is_empty() {
            self.job.clone()
        } else {
            format!("{}.{}", self.job, self.peer)
        };
        raw.chars()
            .map(|c| {
                if is_zfs_component_char(c) && c != ' ' {
                    c
                } else {
                    '_'
                }
            })
            .take(LABEL_MAX)
            .collect()
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.peer.is_empty() {
            write!(f, "{}", self.job)
        } else {
            write!(f, "{} -> {}", self.job, self.peer)
        }
    }
}

/// The 64-bit key of a [`Lane`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LaneKey(pub u64);

impl fmt::Display for LaneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The kinds of zferry abstractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbstractionKind {
    /// Bookmark on the sender marking the last snapshot the receiver confirmed (`C`).
    ReplicationCursor,
    /// Bookmark on the sender protecting a step's incremental base while it runs (`T`).
    TentativeCursor,
    /// Hold on the sender's `from` and `to` snapshots while a step runs (`S`).
    StepHold,
    /// Hold on the receiver's most recently received snapshot (`R`).
    LastReceivedHold,
}

impl AbstractionKind {
    /// The letter in names.
    pub fn letter(self) -> char {
        match self {
            AbstractionKind::ReplicationCursor => 'C',
            AbstractionKind::TentativeCursor => 'T',
            AbstractionKind::StepHold => 'S',
            AbstractionKind::LastReceivedHold => 'R',
        }
    }

    /// The kind for a letter.
    pub fn from_letter(letter: char) -> Option<Self> {
        Some(match letter {
            'C' => AbstractionKind::ReplicationCursor,
            'T' => AbstractionKind::TentativeCursor,
            'S' => AbstractionKind::StepHold,
            'R' => AbstractionKind::LastReceivedHold,
            _ => return None,
        })
    }

    /// Whether this kind is a bookmark (else a hold tag).
    pub fn is_bookmark(self) -> bool {
        matches!(
            self,
            AbstractionKind::ReplicationCursor | AbstractionKind::TentativeCursor
        )
    }
}

/// A parsed zferry abstraction name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AbstractionName {
    /// Which abstraction.
    pub kind: AbstractionKind,
    /// The guid of the snapshot it refers to.
    pub guid: u64,
    /// The lane it belongs to.
    pub lane: LaneKey,
}

impl AbstractionName {
    /// The abstraction of `kind` for snapshot `guid` in `lane`.
    pub fn new(kind: AbstractionKind, guid: u64, lane: &Lane) -> Self {
        Self {
            kind,
            guid,
            lane: lane.key(),
        }
    }

    /// The name without label (42 bytes).
    pub fn short(&self) -> String {
        format!(
            "{PREFIX}{}_{:016x}_{}",
            self.kind.letter(),
            self.guid,
            self.lane
        )
    }

    /// The name with the lane's label, if `dataset#name` (or a hold tag) stays within 255 bytes;
    /// else the short name. `dataset_len` is the length of the dataset name (0 for hold tags).
    pub fn render(&self, lane: &Lane, dataset_len: usize) -> String {
        let label = lane.label();
        let long = format!("{}_{label}", self.short());
        if label.is_empty() || dataset_len + 1 + long.len() > crate::endpoint::MAX_DATASET_NAME_LEN
        {
            self.short()
        } else {
            long
        }
    }

    /// Parses a bookmark name (after `#`) or hold tag; `None` when it is not a zferry abstraction.
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(PREFIX)?;
        let mut chars = rest.chars();
        let kind = AbstractionKind::from_letter(chars.next()?)?;
        let rest = chars.as_str().strip_prefix('_')?;
        let (guid, rest) = take_hex16(rest)?;
        let rest = rest.strip_prefix('_')?;
        let (lane, rest) = take_hex16(rest)?;
        if !(rest.is_empty() || rest.starts_with('_')) {
            return None;
        }
        Some(Self {
            kind,
            guid,
            lane: LaneKey(lane),
        })
    }
}

/// Parses exactly 16 lower-case hex digits at the start of `s`.
fn take_hex16(s: &str) -> Option<(u64, &str)> {
    let digits = s.get(..16)?;
    if !digits
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let value = u64::from_str_radix(digits, 16).ok()?;
    Some((value, &s[16..]))
}

/// A zrepl abstraction recognised for migration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ZreplAbstraction {
    /// Bookmark `zrepl_CURSOR_G_<guid>_J_<job>`.
    Cursor {
        /// Guid embedded in the name.
        guid: u64,
        /// zrepl job name.
        job: String,
    },
    /// The pre-0.1 bookmark `zrepl_replication_cursor`.
    LegacyCursor,
    /// Hold tag `zrepl_STEP_J_<job>`.
    StepHold {
        /// zrepl job name.
        job: String,
    },
    /// Hold tag `zrepl_last_received_J_<job>`.
    LastReceivedHold {
        /// zrepl job name.
        job: String,
    },
}

impl ZreplAbstraction {
    /// Recognises a zrepl bookmark name (after `#`).
    pub fn parse_bookmark(name: &str) -> Option<Self> {
        if name == "zrepl_replication_cursor" {
            return Some(Self::LegacyCursor);
        }
        let rest = name.strip_prefix("zrepl_CURSOR_G_")?;
        let (guid, rest) = take_hex16(rest)?;
        let job = rest.strip_prefix("_J_")?;
        (!job.is_empty()).then(|| Self::Cursor {
            guid,
            job: job.to_owned(),
        })
    }

    /// Recognises a zrepl hold tag.
    pub fn parse_hold(tag: &str) -> Option<Self> {
        if let Some(job) = tag.strip_prefix("zrepl_STEP_J_") {
            return Some(Self::StepHold {
                job: job.to_owned(),
            });
        }
        tag.strip_prefix("zrepl_last_received_J_")
            .map(|job| Self::LastReceivedHold {
                job: job.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_embed_guid_and_lane() {
        let lane = Lane::new("push_job", "backup-host");
        let a = AbstractionName::new(
            AbstractionKind::ReplicationCursor,
            0x00ab_cdef_0123_4567,
            &lane,
        );
        let short = a.short();
        assert_eq!(short.len(), 42);
        assert!(short.starts_with("zferry_C_00abcdef01234567_"), "{short}");
        assert_eq!(AbstractionName::parse(&short), Some(a.clone()));
        let long = a.render(&lane, 10);
        assert!(long.ends_with("_push_job.backup-host"), "{long}");
        assert_eq!(AbstractionName::parse(&long), Some(a));
    }

    #[test]
    fn each_kind_parses_back() {
        let lane = Lane::new("j", "");
        for kind in [
            AbstractionKind::ReplicationCursor,
            AbstractionKind::TentativeCursor,
            AbstractionKind::StepHold,
            AbstractionKind::LastReceivedHold,
        ] {
            let a = AbstractionName::new(kind, u64::MAX, &lane);
            assert_eq!(AbstractionName::parse(&a.render(&lane, 0)), Some(a));
        }
    }

    #[test]
    fn lanes_differ_even_when_labels_collide() {
        let a = Lane::new("a.b", "c");
        let b = Lane::new("a", "b.c");
        assert_eq!(a.label(), b.label());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn long_labels_are_cut_and_dropped_for_long_datasets() {
        let lane = Lane::new("j".repeat(200), "p".repeat(200));
        let a = AbstractionName::new(AbstractionKind::StepHold, 1, &lane);
        let rendered = a.render(&lane, 0);
        assert_eq!(rendered.len(), 42 + 1 + LABEL_MAX);
        assert_eq!(a.render(&lane, 200), a.short());
        assert_eq!(AbstractionName::parse(&rendered), Some(a));
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(
            Lane::new("job", "host name/x@y").label(),
            "job.host_name_x_y"
        );
    }

    #[test]
    fn rejects_foreign_and_malformed_names() {
        for bad in [
            "zrepl_CURSOR_G_00000000000000ff_J_job",
            "zferry_X_00000000000000ff_00000000000000ff",
            "zferry_C_00000000000000FF_00000000000000ff",
            "zferry_C_0000000000000ff_00000000000000ff",
            "zferry_C_00000000000000ff_00000000000000ffx",
            "zferry_C_00000000000000ff",
            "manual",
        ] {
            assert_eq!(AbstractionName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn recognises_zrepl_abstractions() {
        assert_eq!(
            ZreplAbstraction::parse_bookmark("zrepl_CURSOR_G_932f3a7089080ce2_J_push with name"),
            Some(ZreplAbstraction::Cursor {
                guid: 0x932f_3a70_8908_0ce2,
                job: "push with name".into()
            })
        );
        assert_eq!(
            ZreplAbstraction::parse_bookmark("zrepl_CURSOR_G_932f3a7089_J_push"),
            None
        );
        assert_eq!(
            ZreplAbstraction::parse_bookmark("zrepl_replication_cursor"),
            Some(ZreplAbstraction::LegacyCursor)
        );
        assert_eq!(
            ZreplAbstraction::parse_hold("zrepl_STEP_J_push"),
            Some(ZreplAbstraction::StepHold { job: "push".into() })
        );
        assert_eq!(
            ZreplAbstraction::parse_hold("zrepl_last_received_J_sink"),
            Some(ZreplAbstraction::LastReceivedHold { job: "sink".into() })
        );
        assert_eq!(ZreplAbstraction::parse_hold("keep"), None);
    }
}
