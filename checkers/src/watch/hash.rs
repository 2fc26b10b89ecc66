//! The members' hashes of the store (etcd's HashKV) once the cluster healed:
//! at one revision every member must hold the same keys and values, and the
//! same compaction; a member that diverged silently serves its own history to
//! the watchers and readers that ask it.

use super::parse::{Call, name, shape};
use super::{MemberHash, WatchViolation, WatchViolationKind};
use crate::history::HistoryError;
use crate::op::Type;

/// The hashes answered, by revision then member, and the hash ops that got none.
pub(super) struct Hashes {
    pub answers: Vec<MemberHash>,
    pub failed: usize,
}

const ANSWER: &str = "{revision Int, hash Int, compact_revision Int}";

/// Reads the `hash` calls: an ok is an answer, anything else counted as failed.
pub(super) fn read(calls: &[Call]) -> Result<Hashes, HistoryError> {
    let mut answers = Vec::new();
    let mut failed = 0;
    for (invoke, done) in calls {
        let Some(d) = done.filter(|d| d.kind == Type::Ok) else {
            failed += 1;
            continue;
        };
        let field = |f: &str| d.value.get(f).and_then(|v| v.as_int()).ok_or_else(|| shape(d, ANSWER));
        answers.push(MemberHash {
            member: name(&invoke.key.clone().unwrap_or_default()),
            revision: field("revision")?,
            hash: field("hash")?,
            compact_revision: field("compact_revision")?,
            op: d.index,
        });
    }
    answers.sort_by(|a, b| (a.revision, &a.member, a.op).cmp(&(b.revision, &b.member, b.op)));
    Ok(Hashes { answers, failed })
}

/// Same: at each revision, every member's hash and compaction as the first's.
pub(super) fn judge(answers: &[MemberHash], violations: &mut Vec<WatchViolation>) {
    for at in answers.chunk_by(|a, b| a.revision == b.revision) {
        let first = &at[0];
        for other in &at[1..] {
            if (other.hash, other.compact_revision) != (first.hash, first.compact_revision) {
                violations.push(WatchViolation::new(
                    WatchViolationKind::HashMismatch,
                    &format!("{} vs {}", first.member, other.member),
                    format!(
                        "at revision {}, {} hashes {} (compacted at {}) and {} hashes {} (compacted at {})",
                        first.revision,
                        first.member,
                        first.hash,
                        first.compact_revision,
                        other.member,
                        other.hash,
                        other.compact_revision
                    ),
                    vec![first.op, other.op],
                ));
            }
        }
    }
}
