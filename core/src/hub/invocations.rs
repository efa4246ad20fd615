//! Invocation-id bookkeeping of one hub endpoint (spec `signalr.md` §1), client or server.
//!
//! - [`IdGenerator`]: our ids `"0"`, `"1"`, … shared by invocations and upload streams (as the
//!   JS client does).
//! - [`OutgoingCalls`]: calls *we* made that await replies; routes the peer's StreamItem and
//!   Completion to them and checks their shape.
//! - [`IncomingCalls`]: calls the *peer* made to us; rejects an id the peer reuses, handles
//!   CancelInvocation, and says whether a reply may be sent at all.
//! - [`UploadStreams`]: stream ids the peer announced in an Invocation's `streamIds`, fed by
//!   its StreamItem / Completion.
//!
//! An incoming StreamItem or Completion is either an item of an upload stream the peer feeds
//! (only a server receives those) or a reply to one of our calls (a client's results, or a
//! server's client-result calls). A driver checks [`UploadStreams::contains`] first, then
//! hands it to [`OutgoingCalls`].
//!
//! Ids are compared per direction: the peer may use the same string as we do independently.
//! What this module does not do: it encodes nothing, runs no hub methods and does not limit
//! parallel invocations (a server policy).

use std::collections::{HashMap, HashSet, VecDeque};

use crate::hub::message::{CompletionResult, RawValue};

/// The peer broke an invocation rule of §1. Each variant is fatal to the connection: close it
/// with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// An Invocation / StreamInvocation with an id the peer already used (still active, or
    /// finished and still remembered).
    #[error("invocation id '{0}' was already used by the peer")]
    ReusedInvocationId(String),
    /// A StreamItem for a call that returns a single result.
    #[error("StreamItem for invocation '{0}', which returns a single result")]
    StreamItemForSingleResult(String),
    /// A Completion carrying a value for a streaming call (a stream ends without a result).
    #[error("Completion with a result for streaming invocation '{0}'")]
    ResultForStream(String),
    /// A StreamItem or Completion for an id we do not await (never used, or already
    /// completed). Reported only under [`UnknownIds::Reject`].
    #[error("StreamItem or Completion for unknown or finished invocation '{0}'")]
    UnknownInvocation(String),
    /// An Invocation announcing an upload stream id that is already open.
    #[error("upload stream id '{0}' is already in use")]
    DuplicateStreamId(String),
    /// A StreamItem or Completion for an upload stream that was never announced, or already
    /// completed.
    #[error("StreamItem or Completion for unknown or completed upload stream '{0}'")]
    UnknownStream(String),
    /// A Completion carrying a value for an upload stream (it may carry an error only).
    #[error("Completion with a result for upload stream '{0}'")]
    ResultForUpload(String),
}

/// Our caller misused the API (a bug on this side, never the peer's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationMisuse {
    /// [`OutgoingCalls::register`] with an id that is still awaiting its reply.
    #[error("invocation id '{0}' is already awaiting a reply")]
    DuplicateCallId(String),
}

/// Our own ids: `"0"`, `"1"`, …, one counter for invocations and upload streams alike.
#[derive(Debug, Clone, Default)]
pub struct IdGenerator {
    next: u64,
}

impl IdGenerator {
    /// A generator starting at `"0"`.
    pub fn new() -> Self {
        IdGenerator::default()
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        let id = self.next.to_string();
        self.next += 1;
        id
    }
}

/// What a call returns: one Completion with a result (`SingleResult`, Invocation), or
/// StreamItems then a Completion without result (`Stream`, StreamInvocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Invocation (type 1): one Completion, never a StreamItem.
    SingleResult,
    /// StreamInvocation (type 4): StreamItems, then a Completion without result.
    Stream,
}

/// A reply routed to one of our calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// One item of a stream call.
    Item(RawValue),
    /// The call ended; it is no longer tracked.
    Completed(CompletionResult),
}

/// What to do with a StreamItem or Completion for an id we do not await. The spec calls it a
/// protocol error; the JS client ignores it (it forgets a stream when it cancels it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownIds {
    /// [`InvocationError::UnknownInvocation`].
    #[default]
    Reject,
    /// Drop the message silently (`Ok(None)`).
    Ignore,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    kind: CallKind,
    cancelled: bool,
}

/// Calls we made that await the peer's replies.
///
/// Register each call before sending it, feed the peer's StreamItem / Completion for it, and
/// [`drain`](Self::drain) on connection close to fail what is still pending. A cancelled call
/// stays tracked until its Completion (the peer still sends one); items arriving after the
/// cancel are dropped.
#[derive(Debug, Clone, Default)]
pub struct OutgoingCalls {
    pending: HashMap<String, Call>,
    unknown: UnknownIds,
}

impl OutgoingCalls {
    /// No pending calls; `unknown` decides about replies to ids we do not await.
    pub fn new(unknown: UnknownIds) -> Self {
        OutgoingCalls {
            pending: HashMap::new(),
            unknown,
        }
    }

    /// Starts awaiting the replies to call `id`.
    pub fn register(
        &mut self,
        id: impl Into<String>,
        kind: CallKind,
    ) -> Result<(), InvocationMisuse> {
        let id = id.into();
        if self.pending.contains_key(&id) {
            return Err(InvocationMisuse::DuplicateCallId(id));
        }
        self.pending.insert(
            id,
            Call {
                kind,
                cancelled: false,
            },
        );
        Ok(())
    }

    /// We cancel call `id`: later items are dropped, its Completion still ends it. Returns
    /// true if it was pending (send CancelInvocation then); false for an unknown id.
    pub fn cancel(&mut self, id: &str) -> bool {
        match self.pending.get_mut(id) {
            Some(call) => {
                call.cancelled = true;
                true
            }
            None => false,
        }
    }

    /// Routes a StreamItem for `id`. `Ok(None)`: dropped (cancelled call, or an ignored
    /// unknown id).
    pub fn on_stream_item(
        &mut self,
        id: &str,
        item: RawValue,
    ) -> Result<Option<CallEvent>, InvocationError> {
        let Some(call) = self.pending.get(id) else {
            return self.unknown(id);
        };
        match call.kind {
            CallKind::SingleResult => Err(InvocationError::StreamItemForSingleResult(id.into())),
            CallKind::Stream if call.cancelled => Ok(None),
            CallKind::Stream => Ok(Some(CallEvent::Item(item))),
        }
    }

    /// Routes a Completion for `id` and stops tracking the call. `Ok(None)`: an ignored
    /// unknown id.
    pub fn on_completion(
        &mut self,
        id: &str,
        result: CompletionResult,
    ) -> Result<Option<CallEvent>, InvocationError> {
        let Some(call) = self.pending.get(id) else {
            return self.unknown(id);
        };
        if call.kind == CallKind::Stream && matches!(result, CompletionResult::Value(_)) {
            return Err(InvocationError::ResultForStream(id.into()));
        }
        self.pending.remove(id);
        Ok(Some(CallEvent::Completed(result)))
    }

    fn unknown(&self, id: &str) -> Result<Option<CallEvent>, InvocationError> {
        match self.unknown {
            UnknownIds::Reject => Err(InvocationError::UnknownInvocation(id.into())),
            UnknownIds::Ignore => Ok(None),
        }
    }

    /// True while call `id` awaits its Completion.
    pub fn is_pending(&self, id: &str) -> bool {
        self.pending.contains_key(id)
    }

    /// Number of pending calls.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no call is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Stops tracking every call (the connection closed) and returns their ids, sorted, so
    /// the caller can fail them.
    pub fn drain(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = self.pending.drain().map(|(id, _)| id).collect();
        ids.sort();
        ids
    }
}

/// Default number of finished peer ids [`IncomingCalls`] remembers to detect reuse.
pub const DEFAULT_FINISHED_ID_MEMORY: usize = 1024;

/// Calls the peer made to us.
///
/// Reuse detection: an id still active is always caught; finished ids are remembered up to a
/// bound (the most recent ones, [`DEFAULT_FINISHED_ID_MEMORY`] by default) so that a long-lived
/// connection keeps constant memory. A peer reusing an id older than that is not caught.
#[derive(Debug, Clone)]
pub struct IncomingCalls {
    active: HashMap<String, Call>,
    finished: HashSet<String>,
    finished_order: VecDeque<String>,
    memory: usize,
}

impl Default for IncomingCalls {
    fn default() -> Self {
        IncomingCalls::new(DEFAULT_FINISHED_ID_MEMORY)
    }
}

impl IncomingCalls {
    /// No calls; remembers up to `finished_id_memory` finished ids.
    pub fn new(finished_id_memory: usize) -> Self {
        IncomingCalls {
            active: HashMap::new(),
            finished: HashSet::new(),
            finished_order: VecDeque::new(),
            memory: finished_id_memory,
        }
    }

    /// The peer invoked us. `None` (non-blocking) is never tracked; an id the peer already
    /// used is a protocol error.
    pub fn begin(&mut self, id: Option<&str>, kind: CallKind) -> Result<(), InvocationError> {
        let Some(id) = id else { return Ok(()) };
        if self.active.contains_key(id) || self.finished.contains(id) {
            return Err(InvocationError::ReusedInvocationId(id.into()));
        }
        self.active.insert(
            id.into(),
            Call {
                kind,
                cancelled: false,
            },
        );
        Ok(())
    }

    /// Whether a reply (StreamItem, Completion) may be sent for `id`: never for a
    /// non-blocking call (`None`), nor for one that is not active.
    pub fn may_reply(&self, id: Option<&str>) -> bool {
        id.is_some_and(|id| self.active.contains_key(id))
    }

    /// The kind of active call `id`.
    pub fn kind_of(&self, id: &str) -> Option<CallKind> {
        self.active.get(id).map(|c| c.kind)
    }

    /// The peer cancelled `id`: stop sending items, still send the Completion. Returns true if
    /// the call is active; an unknown id is ignored (false).
    pub fn cancel(&mut self, id: &str) -> bool {
        match self.active.get_mut(id) {
            Some(call) => {
                call.cancelled = true;
                true
            }
            None => false,
        }
    }

    /// True if active call `id` was cancelled by the peer.
    pub fn is_cancelled(&self, id: &str) -> bool {
        self.active.get(id).is_some_and(|c| c.cancelled)
    }

    /// We sent the Completion for `id`: it is finished (and remembered). Returns true if it
    /// was active.
    pub fn complete(&mut self, id: &str) -> bool {
        if self.active.remove(id).is_none() {
            return false;
        }
        if self.memory > 0 {
            if self.finished_order.len() == self.memory
                && let Some(old) = self.finished_order.pop_front()
            {
                self.finished.remove(&old);
            }
            self.finished.insert(id.to_owned());
            self.finished_order.push_back(id.to_owned());
        }
        true
    }

    /// Number of active calls.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }
}

/// An item or the end of an upload stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEvent {
    /// One item.
    Item(RawValue),
    /// The stream ended (`error` = the caller failed it); it is no longer tracked.
    Completed {
        /// The error text of a failed stream.
        error: Option<String>,
    },
}

/// Upload streams the peer announced in an Invocation's `streamIds`, by stream id.
///
/// Each stream completes once; items or completions for an id that was never announced or
/// already completed are [`InvocationError::UnknownStream`]. When the hub method owning the
/// streams ends, [`close_owner`](Self::close_owner) drops its still-open streams.
#[derive(Debug, Clone, Default)]
pub struct UploadStreams {
    /// Stream id → the invocation id that announced it (`None` for a non-blocking call).
    open: HashMap<String, Option<String>>,
}

impl UploadStreams {
    /// No streams.
    pub fn new() -> Self {
        UploadStreams::default()
    }

    /// Opens the streams an Invocation announced. All or nothing: an id already open (or
    /// repeated in `stream_ids`) is a protocol error and opens none.
    pub fn announce(
        &mut self,
        owner: Option<&str>,
        stream_ids: &[String],
    ) -> Result<(), InvocationError> {
        for (i, id) in stream_ids.iter().enumerate() {
            if self.open.contains_key(id) || stream_ids[..i].contains(id) {
                return Err(InvocationError::DuplicateStreamId(id.clone()));
            }
        }
        for id in stream_ids {
            self.open.insert(id.clone(), owner.map(str::to_owned));
        }
        Ok(())
    }

    /// True while stream `id` is open.
    pub fn contains(&self, id: &str) -> bool {
        self.open.contains_key(id)
    }

    /// The invocation that announced open stream `id` (`Some(None)`: a non-blocking one).
    pub fn owner_of(&self, id: &str) -> Option<Option<&str>> {
        self.open.get(id).map(Option::as_deref)
    }

    /// Routes a StreamItem for stream `id`.
    pub fn on_item(&mut self, id: &str, item: RawValue) -> Result<UploadEvent, InvocationError> {
        if !self.open.contains_key(id) {
            return Err(InvocationError::UnknownStream(id.into()));
        }
        Ok(UploadEvent::Item(item))
    }

    /// Routes a Completion for stream `id` and closes it.
    pub fn on_completion(
        &mut self,
        id: &str,
        result: CompletionResult,
    ) -> Result<UploadEvent, InvocationError> {
        if !self.open.contains_key(id) {
            return Err(InvocationError::UnknownStream(id.into()));
        }
        let error = match result {
            CompletionResult::Void => None,
            CompletionResult::Error(e) => Some(e),
            CompletionResult::Value(_) => {
                return Err(InvocationError::ResultForUpload(id.into()));
            }
        };
        self.open.remove(id);
        Ok(UploadEvent::Completed { error })
    }

    /// The invocation `owner` ended: closes its open streams and returns their ids, sorted.
    pub fn close_owner(&mut self, owner: &str) -> Vec<String> {
        let mut closed: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| o.as_deref() == Some(owner))
            .map(|(id, _)| id.clone())
            .collect();
        closed.sort();
        for id in &closed {
            self.open.remove(id);
        }
        closed
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when no stream is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn v(s: &'static str) -> RawValue {
        RawValue::Json(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn ids_count_from_zero_shared_by_calls_and_streams() {
        let mut ids = IdGenerator::new();
        let call = ids.next_id();
        let stream = ids.next_id();
        assert_eq!((call.as_str(), stream.as_str()), ("0", "1"));
        assert_eq!(ids.next_id(), "2");
    }

    #[test]
    fn single_result_call_completes_with_its_value() {
        let mut calls = OutgoingCalls::default();
        calls.register("0", CallKind::SingleResult).unwrap();
        let done = calls
            .on_completion("0", CompletionResult::Value(v("42")))
            .unwrap();
        assert_eq!(
            done,
            Some(CallEvent::Completed(CompletionResult::Value(v("42"))))
        );
        assert!(calls.is_empty());
    }

    #[test]
    fn stream_item_for_single_result_call_is_a_protocol_error() {
        let mut calls = OutgoingCalls::default();
        calls.register("0", CallKind::SingleResult).unwrap();
        assert_eq!(
            calls.on_stream_item("0", v("1")),
            Err(InvocationError::StreamItemForSingleResult("0".into()))
        );
    }

    #[test]
    fn stream_call_gets_items_then_a_completion_without_result() {
        let mut calls = OutgoingCalls::default();
        calls.register("3", CallKind::Stream).unwrap();
        assert_eq!(
            calls.on_stream_item("3", v("1")),
            Ok(Some(CallEvent::Item(v("1"))))
        );
        assert_eq!(
            calls.on_completion("3", CompletionResult::Value(v("2"))),
            Err(InvocationError::ResultForStream("3".into()))
        );
        assert_eq!(
            calls.on_completion("3", CompletionResult::Error("boom".into())),
            Ok(Some(CallEvent::Completed(CompletionResult::Error(
                "boom".into()
            ))))
        );
    }

    #[test]
    fn anything_after_the_completion_is_unknown_rejected_or_ignored() {
        let mut strict = OutgoingCalls::new(UnknownIds::Reject);
        strict.register("0", CallKind::Stream).unwrap();
        strict.on_completion("0", CompletionResult::Void).unwrap();
        let unknown = Err(InvocationError::UnknownInvocation("0".into()));
        assert_eq!(strict.on_stream_item("0", v("1")), unknown);
        assert_eq!(strict.on_completion("0", CompletionResult::Void), unknown);
        assert_eq!(
            strict.on_completion("9", CompletionResult::Void),
            Err(InvocationError::UnknownInvocation("9".into()))
        );

        let mut lenient = OutgoingCalls::new(UnknownIds::Ignore);
        assert_eq!(lenient.on_stream_item("9", v("1")), Ok(None));
        assert_eq!(lenient.on_completion("9", CompletionResult::Void), Ok(None));
    }

    #[test]
    fn cancelled_call_drops_items_and_still_completes() {
        let mut calls = OutgoingCalls::default();
        calls.register("1", CallKind::Stream).unwrap();
        assert!(calls.cancel("1"));
        assert!(!calls.cancel("nope"));
        assert_eq!(calls.on_stream_item("1", v("5")), Ok(None));
        assert!(calls.is_pending("1"));
        assert!(matches!(
            calls.on_completion("1", CompletionResult::Void),
            Ok(Some(CallEvent::Completed(CompletionResult::Void)))
        ));
        assert!(!calls.is_pending("1"));
    }

    #[test]
    fn register_twice_is_local_misuse_and_drain_lists_pending() {
        let mut calls = OutgoingCalls::default();
        calls.register("1", CallKind::Stream).unwrap();
        calls.register("0", CallKind::SingleResult).unwrap();
        assert_eq!(
            calls.register("1", CallKind::SingleResult),
            Err(InvocationMisuse::DuplicateCallId("1".into()))
        );
        assert_eq!(calls.len(), 2);
        assert_eq!(calls.drain(), vec!["0".to_string(), "1".to_string()]);
        assert!(calls.is_empty());
    }

    #[test]
    fn peer_reusing_an_active_or_finished_id_is_a_protocol_error() {
        let mut inc = IncomingCalls::default();
        inc.begin(Some("0"), CallKind::SingleResult).unwrap();
        let reused = Err(InvocationError::ReusedInvocationId("0".into()));
        assert_eq!(inc.begin(Some("0"), CallKind::Stream), reused);
        assert!(inc.complete("0"));
        assert_eq!(inc.begin(Some("0"), CallKind::SingleResult), reused);
        assert!(!inc.complete("0"), "already finished");
        inc.begin(Some("1"), CallKind::SingleResult).unwrap();
    }

    #[test]
    fn reuse_memory_is_bounded() {
        let mut inc = IncomingCalls::new(2);
        for id in ["a", "b", "c"] {
            inc.begin(Some(id), CallKind::SingleResult).unwrap();
            inc.complete(id);
        }
        // "a" was forgotten; "b" and "c" are remembered.
        assert!(inc.begin(Some("b"), CallKind::SingleResult).is_err());
        assert!(inc.begin(Some("c"), CallKind::SingleResult).is_err());
        assert!(inc.begin(Some("a"), CallKind::SingleResult).is_ok());
    }

    #[test]
    fn non_blocking_calls_are_never_tracked_nor_replied_to() {
        let mut inc = IncomingCalls::default();
        inc.begin(None, CallKind::SingleResult).unwrap();
        inc.begin(None, CallKind::SingleResult).unwrap();
        assert_eq!(inc.active_count(), 0);
        assert!(!inc.may_reply(None));
        inc.begin(Some("7"), CallKind::SingleResult).unwrap();
        assert!(inc.may_reply(Some("7")));
        assert!(!inc.may_reply(Some("8")));
        inc.complete("7");
        assert!(!inc.may_reply(Some("7")), "no second Completion");
    }

    #[test]
    fn peer_cancel_of_unknown_id_is_ignored() {
        let mut inc = IncomingCalls::default();
        assert!(!inc.cancel("42"));
        inc.begin(Some("1"), CallKind::Stream).unwrap();
        assert_eq!(inc.kind_of("1"), Some(CallKind::Stream));
        assert!(inc.cancel("1"));
        assert!(inc.is_cancelled("1"));
        assert!(inc.may_reply(Some("1")), "the Completion is still sent");
        inc.complete("1");
        assert!(!inc.cancel("1"));
    }

    #[test]
    fn upload_items_and_completion_are_routed_by_stream_id() {
        let mut up = UploadStreams::new();
        up.announce(Some("0"), &["1".into(), "2".into()]).unwrap();
        assert_eq!(up.owner_of("1"), Some(Some("0")));
        assert_eq!(up.on_item("1", v("10")), Ok(UploadEvent::Item(v("10"))));
        assert_eq!(up.on_item("2", v("20")), Ok(UploadEvent::Item(v("20"))));
        assert_eq!(
            up.on_completion("1", CompletionResult::Void),
            Ok(UploadEvent::Completed { error: None })
        );
        assert_eq!(
            up.on_completion("2", CompletionResult::Error("client failed".into())),
            Ok(UploadEvent::Completed {
                error: Some("client failed".into())
            })
        );
        assert!(up.is_empty());
    }

    #[test]
    fn upload_stream_completes_once_and_unknown_ids_are_errors() {
        let mut up = UploadStreams::new();
        up.announce(None, &["5".into()]).unwrap();
        assert_eq!(
            up.on_completion("5", CompletionResult::Value(v("1"))),
            Err(InvocationError::ResultForUpload("5".into()))
        );
        up.on_completion("5", CompletionResult::Void).unwrap();
        let unknown = Err(InvocationError::UnknownStream("5".into()));
        assert_eq!(up.on_completion("5", CompletionResult::Void), unknown);
        assert_eq!(up.on_item("5", v("1")), unknown);
        assert_eq!(
            up.on_item("6", v("1")),
            Err(InvocationError::UnknownStream("6".into()))
        );
    }

    #[test]
    fn duplicate_stream_ids_open_nothing() {
        let mut up = UploadStreams::new();
        up.announce(Some("0"), &["1".into()]).unwrap();
        assert_eq!(
            up.announce(Some("2"), &["3".into(), "1".into()]),
            Err(InvocationError::DuplicateStreamId("1".into()))
        );
        assert_eq!(
            up.announce(Some("2"), &["4".into(), "4".into()]),
            Err(InvocationError::DuplicateStreamId("4".into()))
        );
        assert!(!up.contains("3") && !up.contains("4"));
    }

    #[test]
    fn closing_the_owner_drops_its_open_streams() {
        let mut up = UploadStreams::new();
        up.announce(Some("0"), &["2".into(), "1".into()]).unwrap();
        up.announce(Some("3"), &["4".into()]).unwrap();
        assert_eq!(up.close_owner("0"), vec!["1".to_string(), "2".to_string()]);
        assert_eq!(up.len(), 1);
        assert!(up.on_item("1", v("1")).is_err());
    }
}
