//! Test executions as the explorer sees them: the log of calls, the planned
//! faults, and the digests that identify both.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::VectorClock;
use crate::records::{Exception, FailureMetadata, Invocation, ReturnValue};

/// A 128-bit digest (md5) identifying a value.
pub(crate) type Digest = u128;

pub(crate) fn digest(bytes: &[u8]) -> Digest {
    use md5::{Digest as _, Md5};
    u128::from_be_bytes(Md5::digest(bytes).into())
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
    metadata: &'a crate::records::InvocationMetadata,
    source_service_name: &'a str,
    full_traceback: &'a str,
    vclock: &'a VectorClock,
    origin_vclock: &'a VectorClock,
    execution_index: &'a str,
}

impl LogEntry {
    pub fn new(generated_id: u64, invocation: Invocation) -> Self {
        let mut entry = Self {
            generated_id,
            invocation,
            digest: 0,
            target_service_name: None,
            return_value: None,
            exception: None,
            injected: None,
        };
        entry.refresh_digest();
        entry
    }

    /// Recomputes [`LogEntry::digest`] from the identifying fields, fed to
    /// md5 one by one (strings length-prefixed, JSON values terminated by a
    /// byte JSON never holds) rather than printed as one JSON text first:
    /// two entries get the same digest when those fields are equal, as with
    /// the JSON text, at a fraction of the cost (it runs on every `create`).
    pub fn refresh_digest(&mut self) {
        use md5::{Digest as _, Md5};
        fn text(hasher: &mut Md5, s: &str) {
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        fn json<T: Serialize>(hasher: &mut Md5, value: &T) {
            let _ = serde_json::to_writer(&mut *hasher, value);
            hasher.update([0xff]);
        }
        fn clock(hasher: &mut Md5, clock: &VectorClock) {
            for (service, count) in clock.iter() {
                text(hasher, service);
                hasher.update(count.to_le_bytes());
            }
            hasher.update([0xff]);
        }
        let i = &self.invocation;
        let mut hasher = Md5::new();
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
        self.digest = u128::from_be_bytes(hasher.finalize().into());
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
    pub fn identity_json(&self) -> Value {
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
    /// A short name for the fault: the exception's name or `status <code>`.
    pub fn name(&self) -> String {
        if let Some(e) = &self.forced_exception {
            return e.name.clone();
        }
        match self.failure_metadata.as_ref().and_then(|f| f.return_value.as_ref()) {
            Some(rv) => format!("status {}", rv.status_code),
            None => "failure".to_owned(),
        }
    }
}

/// A digest of a list of planned faults (kept sorted by execution index).
pub(crate) fn faults_digest(faults: &[PlannedFault]) -> Digest {
    digest(&serde_json::to_vec(faults).unwrap_or_default())
}

/// Identifies an execution: the log (a prefix when scheduled, the whole log
/// once run) and the planned faults, as the reference compares them.
pub(crate) fn execution_key(entry_digests: impl Iterator<Item = Digest>, faults: Digest) -> Digest {
    let mut bytes = Vec::with_capacity(16 * 8);
    for d in entry_digests {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(&faults.to_be_bytes());
    digest(&bytes)
}

/// What a scheduled execution keeps of the log that discovered it.
#[derive(Debug)]
pub(crate) struct Prefix {
    /// Per entry: execution index, clock, origin clock, digest.
    pub entries: Vec<PrefixEntry>,
    /// The digests of the entries, to tell a *new* call in O(1).
    pub digests: HashSet<Digest>,
}

#[derive(Debug)]
pub(crate) struct PrefixEntry {
    pub execution_index: String,
    pub vclock: VectorClock,
    pub origin_vclock: VectorClock,
    pub digest: Digest,
}

impl Prefix {
    pub fn of(log: &[LogEntry]) -> Arc<Self> {
        Arc::new(Self {
            entries: log
                .iter()
                .map(|e| PrefixEntry {
                    execution_index: e.invocation.execution_index.clone(),
                    vclock: e.invocation.vclock.clone(),
                    origin_vclock: e.invocation.origin_vclock.clone(),
                    digest: e.digest,
                })
                .collect(),
            digests: log.iter().map(|e| e.digest).collect(),
        })
    }
}

/// An execution waiting on the stack.
#[derive(Clone, Debug)]
pub(crate) struct Scheduled {
    pub prefix: Arc<Prefix>,
    pub faults: Vec<PlannedFault>,
    pub key: Digest,
}
