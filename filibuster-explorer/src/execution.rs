//! Test executions as the explorer sees them: the log of calls, the planned
//! faults, and the digests that identify both.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use filibuster_runtime::VectorClock;
use filibuster_runtime::records::{Exception, FailureMetadata, Invocation, ReturnValue};

/// A 128-bit digest (xxh3-128) identifying a value in the explorer's
/// memory: never printed, never sent, never saved.
pub(crate) type Digest = u128;

pub(crate) fn digest(bytes: &[u8]) -> Digest {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// A digest fed piece by piece, and a writer into it (for JSON printed
/// straight into the digest).
#[derive(Default)]
pub(crate) struct Hasher(xxhash_rust::xxh3::Xxh3Default);

impl Hasher {
    pub(crate) fn update(&mut self, bytes: impl AsRef<[u8]>) {
        self.0.update(bytes.as_ref());
    }

    pub(crate) fn finish(&self) -> Digest {
        self.0.digest128()
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One call of the current execution: the invocation record, with what
/// later updates merged in.
#[derive(Clone, Debug)]
pub(crate) struct LogEntry {
    pub generated_id: u64,
    pub invocation: Invocation,
    /// Digest of the fields that identify the call (the reference's filtered
    /// log entry: everything but the instrumentation type and the outcome).
    pub digest: Digest,
    pub target_service_name: Option<String>,
    pub return_value: Option<ReturnValue>,
    pub exception: Option<Exception>,
    /// The fault injected into this call, if any.
    pub injected: Option<PlannedFault>,
    /// The moment the current identity took effect (see [`EntryVersion`]).
    pub since: u64,
    /// Earlier identities, when updates rewrote it.
    pub past: Vec<EntryVersion>,
}

/// The fields of a log entry that identify a call, in the reference's
/// filtered form (also what counterexample files hold).
#[derive(Serialize)]
struct Identity<'a> {
    generated_id: u64,
    args: &'a [String],
    kwargs: &'a serde_json::Map<String, Value>,
    module: &'a str,
    method: &'a str,
    callsite_line: &'a Value,
    callsite_file: &'a str,
    metadata: &'a filibuster_runtime::records::InvocationMetadata,
    source_service_name: &'a str,
    full_traceback: &'a str,
    vclock: &'a VectorClock,
    origin_vclock: &'a VectorClock,
    execution_index: &'a str,
}

impl LogEntry {
    pub(crate) fn new(generated_id: u64, invocation: Invocation, since: u64) -> Self {
        let mut entry = Self {
            generated_id,
            invocation,
            digest: 0,
            target_service_name: None,
            return_value: None,
            exception: None,
            injected: None,
            since,
            past: Vec::new(),
        };
        entry.refresh_digest();
        entry
    }

    /// Recomputes [`LogEntry::digest`] from the identifying fields, fed to
    /// digest one by one (strings length-prefixed, JSON values terminated by a
    /// byte JSON never holds) rather than printed as one JSON text first:
    /// two entries get the same digest when those fields are equal, as with
    /// the JSON text, at a fraction of the cost (it runs on every `create`).
    pub(crate) fn refresh_digest(&mut self) {
        fn text(hasher: &mut Hasher, s: &str) {
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        fn json<T: Serialize>(hasher: &mut Hasher, value: &T) {
            let _ = serde_json::to_writer(&mut *hasher, value);
            hasher.update([0xff]);
        }
        fn clock(hasher: &mut Hasher, clock: &VectorClock) {
            for (service, count) in clock.iter() {
                text(hasher, service);
                hasher.update(count.to_le_bytes());
            }
            hasher.update([0xff]);
        }
        let i = &self.invocation;
        let mut hasher = Hasher::default();
        hasher.update(self.generated_id.to_le_bytes());
        hasher.update((i.args.len() as u64).to_le_bytes());
        for arg in &i.args {
            text(&mut hasher, arg);
        }
        json(&mut hasher, &i.kwargs);
        text(&mut hasher, &i.module);
        text(&mut hasher, &i.method);
        json(&mut hasher, &i.callsite_line);
        text(&mut hasher, &i.callsite_file);
        json(&mut hasher, &i.metadata);
        text(&mut hasher, &i.source_service_name);
        text(&mut hasher, &i.full_traceback);
        clock(&mut hasher, &i.vclock);
        clock(&mut hasher, &i.origin_vclock);
        text(&mut hasher, &i.execution_index);
        self.digest = hasher.finish();
    }

    fn identity(&self) -> Identity<'_> {
        let i = &self.invocation;
        Identity {
            generated_id: self.generated_id,
            args: &i.args,
            kwargs: &i.kwargs,
            module: &i.module,
            method: &i.method,
            callsite_line: &i.callsite_line,
            callsite_file: &i.callsite_file,
            metadata: &i.metadata,
            source_service_name: &i.source_service_name,
            full_traceback: &i.full_traceback,
            vclock: &i.vclock,
            origin_vclock: &i.origin_vclock,
            execution_index: &i.execution_index,
        }
    }

    /// The filtered entry as JSON (for counterexample files).
    pub(crate) fn identity_json(&self) -> Value {
        serde_json::to_value(self.identity()).unwrap_or(Value::Null)
    }
}

/// A fault planned for the call with a given execution index: the
/// reference's *failure* record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedFault {
    /// The execution index of the call to fail, as its JSON text.
    pub execution_index: String,
    /// Raise this exception instead of performing the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_exception: Option<Exception>,
    /// Answer this instead of performing the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_metadata: Option<FailureMetadata>,
    /// The target of the call, for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

impl PlannedFault {
    /// A short name for the fault: the exception's name, `status <code>` or
    /// `latency <n> ms`.
    pub fn name(&self) -> String {
        if let Some(e) = &self.forced_exception {
            return e.fault_name();
        }
        match &self.failure_metadata {
            Some(failure) => failure.fault_name(),
            None => "failure".to_owned(),
        }
    }
}

/// A digest of a list of planned faults (kept sorted by execution index).
pub(crate) fn faults_digest(faults: &[PlannedFault]) -> Digest {
    // Printed straight into the digest.
    let mut hasher = Hasher::default();
    let _ = serde_json::to_writer(&mut hasher, faults);
    hasher.finish()
}

/// Extends the digest of a log by one entry: executions are identified by
/// the chain of their entries' digests, computed as calls arrive, so that
/// scheduling costs the same whatever the length of the log.
pub(crate) fn chain(previous: Digest, entry: Digest) -> Digest {
    let mut bytes = [0; 32];
    bytes[..16].copy_from_slice(&previous.to_be_bytes());
    bytes[16..].copy_from_slice(&entry.to_be_bytes());
    digest(&bytes)
}

/// Identifies an execution: its log (a prefix when scheduled, the whole log
/// once run) as a [`chain`] of entry digests, and the planned faults, as the
/// reference compares them.
pub(crate) fn execution_key(log_chain: Digest, faults: Digest) -> Digest {
    chain(log_chain, faults)
}

/// The log of one execution once it has finished, shared by every execution
/// it scheduled: a scheduled execution keeps a length and a moment, not a
/// copy of the log.
#[derive(Debug, Default)]
pub(crate) struct FrozenLog {
    /// Per entry, its versions (more than one when an update rewrote its
    /// execution index or clock, as the reference's clients make it do).
    entries: Vec<Vec<EntryVersion>>,
    /// Where each digest was an entry's: (position, from, until) moments.
    positions: HashMap<Digest, Vec<(usize, u64, u64)>>,
}

/// What identifies one entry of the log from a moment on.
#[derive(Clone, Debug)]
pub(crate) struct EntryVersion {
    /// The moment (the server's count of log changes) it took effect.
    pub from: u64,
    pub execution_index: String,
    pub vclock: VectorClock,
    pub origin_vclock: VectorClock,
    pub digest: Digest,
}

impl EntryVersion {
    pub(crate) fn of(entry: &LogEntry, from: u64) -> Self {
        Self {
            from,
            execution_index: entry.invocation.execution_index.clone(),
            vclock: entry.invocation.vclock.clone(),
            origin_vclock: entry.invocation.origin_vclock.clone(),
            digest: entry.digest,
        }
    }
}

impl FrozenLog {
    pub(crate) fn of(log: &[LogEntry]) -> Self {
        let mut positions: HashMap<Digest, Vec<(usize, u64, u64)>> = HashMap::with_capacity(log.len());
        let mut entries = Vec::with_capacity(log.len());
        for (i, e) in log.iter().enumerate() {
            let mut versions = e.past.clone();
            versions.push(EntryVersion::of(e, e.since));
            for (v, version) in versions.iter().enumerate() {
                let until = versions.get(v + 1).map_or(u64::MAX, |next| next.from);
                positions.entry(version.digest).or_default().push((i, version.from, until));
            }
            entries.push(versions);
        }
        Self { entries, positions }
    }
}

/// The log of the execution that scheduled another, up to the call that
/// scheduled it, as it was then. The log is filled in when that execution
/// finishes, before any execution it scheduled can run.
#[derive(Clone, Debug)]
pub(crate) struct Prefix {
    pub log: Arc<OnceLock<FrozenLog>>,
    pub len: usize,
    /// The moment it was taken.
    pub at: u64,
}

impl Prefix {
    /// The entries of the prefix, as they were when it was taken.
    pub(crate) fn entries(&self) -> Vec<&EntryVersion> {
        let Some(log) = self.log.get() else { return Vec::new() };
        log.entries[..self.len.min(log.entries.len())]
            .iter()
            .filter_map(|versions| versions.iter().rev().find(|v| v.from <= self.at))
            .collect()
    }

    /// Whether the prefix held an entry with this digest.
    pub(crate) fn contains(&self, digest: Digest) -> bool {
        self.log.get().and_then(|log| log.positions.get(&digest)).is_some_and(|spans| {
            spans.iter().any(|&(i, from, until)| i < self.len && from <= self.at && self.at < until)
        })
    }
}

/// An execution waiting on the stack.
#[derive(Clone, Debug)]
pub(crate) struct Scheduled {
    pub prefix: Prefix,
    pub faults: Vec<PlannedFault>,
    pub key: Digest,
}
