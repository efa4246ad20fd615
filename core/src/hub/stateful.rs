//! Stateful reconnect bookkeeping (spec `signalr.md` §8), one half per direction.
//!
//! - [`SendBuffer`] numbers our trackable messages (types 1–5) from 1, keeps their encoded
//!   frames until the peer acknowledges them, applies backpressure at a byte limit and replays
//!   what is still un-acked after a reattach.
//! - [`ReceiveTracker`] counts the peer's trackable messages, drops replayed duplicates,
//!   schedules our Acks and applies the peer's Sequence after a reattach.
//!
//! # Reattach, as a driver does it
//! 1. The transport dies uncleanly. Call [`ReceiveTracker::begin_reattach`]; keep pushing new
//!    sends into the [`SendBuffer`] but do not write them (they are replayed below).
//! 2. On the new transport, send `Sequence { sequence_id: send.resume_sequence_id() }`, then
//!    every frame of [`SendBuffer::replay`], in order.
//! 3. Feed every incoming message to [`ReceiveTracker::admit`]: it ignores everything until the
//!    peer's Sequence, applies it, and then drops the duplicates the peer replays.
//!
//! What it does not do: it encodes nothing (frames are already encoded `Bytes`), owns no timer
//! (time is the `now` argument) and never decides to use stateful reconnect at all — Ack and
//! Sequence must never be sent on a connection that did not negotiate it (pysignalr raises on
//! types 8 and 9).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::hub::message::HubMessage;
use crate::time::Instant;

/// Default byte limit of a [`SendBuffer`] (`StatefulReconnectBufferSize`, JS `bufferSize`).
pub const DEFAULT_BUFFER_LIMIT: usize = 100_000;

/// Default delay between receiving something new and acknowledging it (JS and .NET: ~1 s).
pub const DEFAULT_ACK_DELAY: Duration = Duration::from_secs(1);

/// The peer broke a stateful-reconnect rule. Every variant is the peer's fault and fatal to the
/// connection: close it with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatefulError {
    /// An Ack for a sequence id we never sent.
    #[error("Ack for sequence id {acked} but only {sent} messages were sent")]
    AckBeyondSent {
        /// The id in the Ack.
        acked: u64,
        /// How many trackable messages we have sent so far.
        sent: u64,
    },
    /// A Sequence announcing a first id past the next one we expect (the text is what the .NET
    /// and JS clients report).
    #[error("Sequence ID greater than amount of messages we've received.")]
    SequenceAhead {
        /// The id in the Sequence.
        sequence_id: u64,
        /// The first id we have not processed: the highest acceptable Sequence.
        expected: u64,
    },
    /// A Sequence with id 0 (ids start at 1).
    #[error("Sequence ID 0 is not a valid message id")]
    SequenceZero,
}

/// Our outgoing trackable messages, numbered from 1, kept until acknowledged.
///
/// The byte limit is **soft**: [`push`](Self::push) always accepts (a single message larger
/// than the limit is buffered too). The driver applies backpressure by not accepting more
/// application sends while [`is_full`](Self::is_full), and resumes once an Ack brings the
/// buffer back under the limit.
#[derive(Debug, Clone)]
pub struct SendBuffer {
    frames: VecDeque<(u64, Bytes)>,
    total: u64,
    bytes: usize,
    limit: usize,
}

impl Default for SendBuffer {
    fn default() -> Self {
        SendBuffer::new(DEFAULT_BUFFER_LIMIT)
    }
}

impl SendBuffer {
    /// An empty buffer that reports full at `limit` buffered bytes.
    pub fn new(limit: usize) -> Self {
        SendBuffer {
            frames: VecDeque::new(),
            total: 0,
            bytes: 0,
            limit,
        }
    }

    /// Numbers one trackable message (types 1–5) and keeps its encoded frame; returns its
    /// sequence id (1, 2, …). Do not push Ping, Close, Ack or Sequence: see
    /// [`track`](Self::track).
    pub fn push(&mut self, frame: Bytes) -> u64 {
        self.total += 1;
        self.bytes += frame.len();
        self.frames.push_back((self.total, frame));
        self.total
    }

    /// [`push`](Self::push)es `frame` when `message` is trackable; `None` for the others,
    /// which are sent but never buffered.
    pub fn track(&mut self, message: &HubMessage, frame: Bytes) -> Option<u64> {
        message.is_trackable().then(|| self.push(frame))
    }

    /// The peer processed every message up to `sequence_id`: frees them. An Ack at or below
    /// what was already acknowledged changes nothing; one beyond what we sent is an error.
    pub fn ack(&mut self, sequence_id: u64) -> Result<(), StatefulError> {
        if sequence_id > self.total {
            return Err(StatefulError::AckBeyondSent {
                acked: sequence_id,
                sent: self.total,
            });
        }
        while let Some((id, frame)) = self.frames.front() {
            if *id > sequence_id {
                break;
            }
            self.bytes -= frame.len();
            self.frames.pop_front();
        }
        Ok(())
    }

    /// Bytes of the un-acked frames.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Number of un-acked frames.
    pub fn buffered_len(&self) -> usize {
        self.frames.len()
    }

    /// How many trackable messages were pushed in total (the id of the last one).
    pub fn total_sent(&self) -> u64 {
        self.total
    }

    /// The byte limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// True while under the limit: the driver may accept application sends.
    pub fn has_capacity(&self) -> bool {
        self.bytes < self.limit
    }

    /// True at or above the limit: the driver holds application sends until an Ack.
    pub fn is_full(&self) -> bool {
        !self.has_capacity()
    }

    /// The id to announce in our Sequence after a reattach: the first un-acked message, or
    /// `total + 1` when everything was acknowledged (what .NET `MessageBuffer.ResendAsync` and
    /// the JS `_resend` send; the spec's prose says otherwise and is not followed).
    pub fn resume_sequence_id(&self) -> u64 {
        self.frames.front().map_or(self.total + 1, |(id, _)| *id)
    }

    /// The Sequence message to send first on a reattached transport.
    pub fn sequence_message(&self) -> HubMessage {
        HubMessage::Sequence {
            sequence_id: self.resume_sequence_id(),
        }
    }

    /// The un-acked frames with their ids, oldest first: send them after the Sequence.
    pub fn replay(&self) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        self.frames.iter().map(|(id, frame)| (*id, frame.clone()))
    }
}

/// What to do with one incoming trackable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Not seen before: process it.
    New,
    /// Already processed (the peer replayed it after a reattach): drop it.
    Duplicate,
}

/// What [`ReceiveTracker::admit`] decided for one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Process the message (a new trackable one, or Ping / Close / Ack).
    Process,
    /// A replayed trackable message already processed: drop it.
    Duplicate,
    /// The peer's Sequence was applied; nothing else to do with it.
    Resequenced,
    /// Arrived after a reattach but before the peer's Sequence: drop it.
    Ignored,
}

/// The peer's trackable messages as we receive them: dedupe, Ack scheduling, Sequence.
///
/// Driving: feed each incoming message to [`admit`](Self::admit) (or the finer
/// [`on_trackable`](Self::on_trackable) / [`on_sequence`](Self::on_sequence)); after every
/// input and at [`poll_timeout`](Self::poll_timeout), send an Ack for every id that
/// [`poll_ack`](Self::poll_ack) returns.
///
/// Ack rule: an Ack of the highest processed id is due `ack_delay` after something new arrived
/// (one Ack for a burst), never when nothing new arrived since the last Ack. One exception, as
/// in the JS client: a replayed duplicate also schedules an Ack, because a peer that replays
/// what we processed evidently lost our last Ack (and may be blocked on its buffer limit).
/// No Ack is due while waiting for the peer's Sequence.
#[derive(Debug, Clone)]
pub struct ReceiveTracker {
    /// Id the next trackable message will be counted as.
    next_expected: u64,
    /// Highest id processed (0 = none yet).
    latest: u64,
    /// Highest id we acknowledged (0 = none yet).
    acked: u64,
    ack_due: Option<Instant>,
    ack_delay: Duration,
    awaiting_sequence: bool,
}

impl Default for ReceiveTracker {
    fn default() -> Self {
        ReceiveTracker::new(DEFAULT_ACK_DELAY)
    }
}

impl ReceiveTracker {
    /// A tracker that acknowledges `ack_delay` after new messages arrive.
    pub fn new(ack_delay: Duration) -> Self {
        ReceiveTracker {
            next_expected: 1,
            latest: 0,
            acked: 0,
            ack_due: None,
            ack_delay,
            awaiting_sequence: false,
        }
    }

    /// Counts one trackable message (types 1–5) that arrived at `now`.
    pub fn on_trackable(&mut self, now: Instant) -> Delivery {
        let id = self.next_expected;
        self.next_expected += 1;
        if id <= self.latest {
            self.schedule_ack(now);
            return Delivery::Duplicate;
        }
        self.latest = id;
        self.schedule_ack(now);
        Delivery::New
    }

    /// Applies the peer's Sequence: the next message it sends is `sequence_id`, so the count
    /// restarts there and re-sent messages we already processed are dropped as duplicates.
    /// Ends the wait started by [`begin_reattach`](Self::begin_reattach).
    ///
    /// A Sequence past the first id we have not processed (`latest_received() + 1`) would skip
    /// messages: [`StatefulError::SequenceAhead`]. That bound equals the counter's
    /// next-expected id except after a rewind (a previous Sequence whose replay had not
    /// arrived yet): .NET and JS compare with the rewound counter and so fail a connection
    /// that reattaches twice with an Ack in between, although nothing is missing. We accept it.
    pub fn on_sequence(&mut self, sequence_id: u64) -> Result<(), StatefulError> {
        if sequence_id == 0 {
            return Err(StatefulError::SequenceZero);
        }
        let first_unprocessed = self.latest + 1;
        if sequence_id > first_unprocessed {
            return Err(StatefulError::SequenceAhead {
                sequence_id,
                expected: first_unprocessed,
            });
        }
        self.next_expected = sequence_id;
        self.awaiting_sequence = false;
        Ok(())
    }

    /// The transport was lost and is being re-established: ignore everything but the peer's
    /// Sequence until it arrives.
    pub fn begin_reattach(&mut self) {
        self.awaiting_sequence = true;
    }

    /// True between [`begin_reattach`](Self::begin_reattach) and the peer's Sequence.
    pub fn is_awaiting_sequence(&self) -> bool {
        self.awaiting_sequence
    }

    /// Decides what to do with one incoming message (all the rules of §8 in one place).
    pub fn admit(
        &mut self,
        now: Instant,
        message: &HubMessage,
    ) -> Result<Admission, StatefulError> {
        match message {
            HubMessage::Sequence { sequence_id } => {
                self.on_sequence(*sequence_id)?;
                Ok(Admission::Resequenced)
            }
            _ if self.awaiting_sequence => Ok(Admission::Ignored),
            m if m.is_trackable() => Ok(match self.on_trackable(now) {
                Delivery::New => Admission::Process,
                Delivery::Duplicate => Admission::Duplicate,
            }),
            _ => Ok(Admission::Process),
        }
    }

    /// Highest id processed so far (0 = none).
    pub fn latest_received(&self) -> u64 {
        self.latest
    }

    /// Id the next trackable message will be counted as.
    pub fn next_expected(&self) -> u64 {
        self.next_expected
    }

    /// When an Ack becomes due, if one is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.awaiting_sequence {
            None
        } else {
            self.ack_due
        }
    }

    /// The id to send in an Ack now, if one is due; the Ack counts as sent.
    #[must_use = "a returned id must be sent as an Ack"]
    pub fn poll_ack(&mut self, now: Instant) -> Option<u64> {
        if self.awaiting_sequence || self.ack_due.is_none_or(|due| due > now) {
            return None;
        }
        self.ack_due = None;
        self.acked = self.latest;
        Some(self.latest)
    }

    /// Highest id we acknowledged (0 = none).
    pub fn last_acked(&self) -> u64 {
        self.acked
    }

    fn schedule_ack(&mut self, now: Instant) {
        if self.ack_due.is_none() && self.latest > 0 {
            self.ack_due = Some(now + self.ack_delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    fn ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn numbering_starts_at_one() {
        let mut buf = SendBuffer::default();
        assert_eq!(buf.resume_sequence_id(), 1);
        assert_eq!(buf.push(frame(3)), 1);
        assert_eq!(buf.push(frame(4)), 2);
        assert_eq!(buf.total_sent(), 2);
        assert_eq!(buf.buffered_bytes(), 7);
    }

    #[test]
    fn track_numbers_only_types_1_to_5() {
        let mut buf = SendBuffer::default();
        assert_eq!(buf.track(&HubMessage::Ping, frame(2)), None);
        assert_eq!(
            buf.track(&HubMessage::Ack { sequence_id: 1 }, frame(2)),
            None
        );
        let cancel = HubMessage::CancelInvocation {
            headers: Default::default(),
            invocation_id: "0".into(),
        };
        assert_eq!(buf.track(&cancel, frame(2)), Some(1));
        assert_eq!(buf.buffered_len(), 1);
    }

    #[test]
    fn ack_trims_bytes_up_to_and_including_the_id() {
        let mut buf = SendBuffer::default();
        for n in [10, 20, 30] {
            buf.push(frame(n));
        }
        buf.ack(2).unwrap();
        assert_eq!(buf.buffered_bytes(), 30);
        assert_eq!(buf.replay().map(|(id, _)| id).collect::<Vec<_>>(), vec![3]);
        // An old Ack changes nothing.
        buf.ack(1).unwrap();
        assert_eq!(buf.buffered_bytes(), 30);
        buf.ack(3).unwrap();
        assert_eq!(buf.buffered_bytes(), 0);
    }

    #[test]
    fn ack_beyond_sent_is_rejected() {
        let mut buf = SendBuffer::default();
        buf.push(frame(1));
        assert_eq!(
            buf.ack(2),
            Err(StatefulError::AckBeyondSent { acked: 2, sent: 1 })
        );
        assert_eq!(buf.buffered_len(), 1);
    }

    #[test]
    fn resume_id_is_first_unacked_or_total_plus_one() {
        let mut buf = SendBuffer::default();
        assert_eq!(
            buf.sequence_message(),
            HubMessage::Sequence { sequence_id: 1 }
        );
        for _ in 0..4 {
            buf.push(frame(1));
        }
        assert_eq!(buf.resume_sequence_id(), 1);
        buf.ack(2).unwrap();
        assert_eq!(buf.resume_sequence_id(), 3);
        buf.ack(4).unwrap();
        assert_eq!(buf.resume_sequence_id(), 5);
    }

    #[test]
    fn replay_yields_unacked_frames_in_order() {
        let mut buf = SendBuffer::default();
        for b in [b"a", b"b", b"c"] {
            buf.push(Bytes::from_static(b));
        }
        buf.ack(1).unwrap();
        let replayed: Vec<_> = buf.replay().collect();
        assert_eq!(
            replayed,
            vec![(2, Bytes::from_static(b"b")), (3, Bytes::from_static(b"c"))]
        );
    }

    #[test]
    fn backpressure_at_the_byte_limit_released_by_ack() {
        let mut buf = SendBuffer::new(100);
        buf.push(frame(60));
        assert!(buf.has_capacity());
        buf.push(frame(40));
        assert!(buf.is_full(), "at the limit counts as full");
        buf.ack(1).unwrap();
        assert!(buf.has_capacity());
    }

    #[test]
    fn limit_is_soft_one_message_may_exceed_it() {
        let mut buf = SendBuffer::new(10);
        assert_eq!(buf.push(frame(50)), 1);
        assert_eq!(buf.buffered_bytes(), 50);
        assert!(buf.is_full());
        buf.ack(1).unwrap();
        assert!(buf.has_capacity());
    }

    #[test]
    fn receiver_counts_from_one_and_acks_after_the_delay() {
        let mut rx = ReceiveTracker::default();
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(rx.poll_ack(ms(10_000)), None, "nothing new, no Ack");
        assert_eq!(rx.on_trackable(ms(100)), Delivery::New);
        assert_eq!(rx.on_trackable(ms(500)), Delivery::New);
        assert_eq!(rx.latest_received(), 2);
        assert_eq!(
            rx.poll_timeout(),
            Some(ms(1_100)),
            "due 1 s after the first new one"
        );
        assert_eq!(rx.poll_ack(ms(1_099)), None);
        assert_eq!(rx.poll_ack(ms(1_100)), Some(2));
        assert_eq!(rx.last_acked(), 2);
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(
            rx.poll_ack(ms(5_000)),
            None,
            "no repeat without something new"
        );
        assert_eq!(rx.on_trackable(ms(6_000)), Delivery::New);
        assert_eq!(rx.poll_ack(ms(7_000)), Some(3));
    }

    #[test]
    fn ack_delay_is_configurable() {
        let mut rx = ReceiveTracker::new(Duration::from_millis(250));
        let _ = rx.on_trackable(ms(0));
        assert_eq!(rx.poll_timeout(), Some(ms(250)));
    }

    #[test]
    fn dedupe_after_reattach_when_the_peer_replays_seen_messages() {
        let mut rx = ReceiveTracker::default();
        for _ in 0..3 {
            assert_eq!(rx.on_trackable(ms(0)), Delivery::New);
        }
        assert_eq!(rx.poll_ack(ms(1_000)), Some(3));
        // Message 4 and 5 arrive, our Ack for them is lost with the socket.
        let _ = rx.on_trackable(ms(1_500));
        let _ = rx.on_trackable(ms(1_600));
        rx.begin_reattach();
        assert_eq!(rx.poll_timeout(), None, "no Ack while waiting for Sequence");
        assert_eq!(rx.poll_ack(ms(9_000)), None);
        // The peer only saw Ack 3: it resumes at 4 and replays 4, 5, then sends 6.
        rx.on_sequence(4).unwrap();
        assert_eq!(rx.on_trackable(ms(10_000)), Delivery::Duplicate);
        assert_eq!(rx.on_trackable(ms(10_001)), Delivery::Duplicate);
        assert_eq!(rx.on_trackable(ms(10_002)), Delivery::New);
        assert_eq!(rx.latest_received(), 6);
        assert_eq!(rx.poll_ack(ms(20_000)), Some(6));
    }

    #[test]
    fn a_replayed_duplicate_alone_schedules_a_fresh_ack() {
        let mut rx = ReceiveTracker::default();
        let _ = rx.on_trackable(ms(0));
        assert_eq!(rx.poll_ack(ms(1_000)), Some(1));
        rx.begin_reattach();
        rx.on_sequence(1).unwrap();
        assert_eq!(rx.on_trackable(ms(2_000)), Delivery::Duplicate);
        assert_eq!(rx.poll_ack(ms(3_000)), Some(1), "the peer lost our Ack");
    }

    #[test]
    fn sequence_beyond_next_expected_is_rejected_with_the_exact_text() {
        let mut rx = ReceiveTracker::default();
        let _ = rx.on_trackable(ms(0));
        let _ = rx.on_trackable(ms(0));
        // Next expected is 3: 3 is fine, 4 would skip a message.
        let err = rx.clone().on_sequence(4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Sequence ID greater than amount of messages we've received."
        );
        assert_eq!(
            err,
            StatefulError::SequenceAhead {
                sequence_id: 4,
                expected: 3
            }
        );
        rx.on_sequence(3).unwrap();
        assert_eq!(rx.on_sequence(0), Err(StatefulError::SequenceZero));
    }

    #[test]
    fn a_second_reattach_after_an_ack_of_rewound_messages_is_accepted() {
        // Found by `exactly_once_across_reattaches`: 1 and 2 processed; reattach (Sequence 1);
        // before the replay arrives our Ack 2 gets through, so the peer frees 1 and 2; the
        // transport dies again and the peer resumes at 3. Nothing is missing.
        let mut rx = ReceiveTracker::default();
        let _ = rx.on_trackable(ms(0));
        let _ = rx.on_trackable(ms(0));
        rx.begin_reattach();
        rx.on_sequence(1).unwrap();
        assert_eq!(rx.poll_ack(ms(1_000)), Some(2));
        rx.begin_reattach();
        assert_eq!(rx.on_sequence(3), Ok(()));
        assert_eq!(rx.on_trackable(ms(2_000)), Delivery::New);
        assert_eq!(rx.latest_received(), 3);
        assert_eq!(
            rx.on_sequence(5),
            Err(StatefulError::SequenceAhead {
                sequence_id: 5,
                expected: 4
            })
        );
    }

    #[test]
    fn admit_ignores_everything_until_the_sequence() {
        let mut rx = ReceiveTracker::default();
        let item = HubMessage::StreamItem {
            headers: Default::default(),
            invocation_id: "1".into(),
            item: crate::hub::RawValue::Json(Bytes::from_static(b"1")),
        };
        assert_eq!(rx.admit(ms(0), &item), Ok(Admission::Process));
        rx.begin_reattach();
        assert!(rx.is_awaiting_sequence());
        assert_eq!(rx.admit(ms(1), &HubMessage::Ping), Ok(Admission::Ignored));
        assert_eq!(rx.admit(ms(1), &item), Ok(Admission::Ignored));
        assert_eq!(rx.next_expected(), 2, "ignored messages are not counted");
        let seq = HubMessage::Sequence { sequence_id: 1 };
        assert_eq!(rx.admit(ms(2), &seq), Ok(Admission::Resequenced));
        assert!(!rx.is_awaiting_sequence());
        assert_eq!(rx.admit(ms(3), &item), Ok(Admission::Duplicate));
        assert_eq!(rx.admit(ms(3), &item), Ok(Admission::Process));
        assert_eq!(rx.admit(ms(4), &HubMessage::Ping), Ok(Admission::Process));
        let ahead = HubMessage::Sequence { sequence_id: 9 };
        assert!(rx.admit(ms(5), &ahead).is_err());
    }

    proptest! {
        /// Random pushes and (valid or stale) Acks keep the byte count equal to the sum of the
        /// un-acked frames, the ids contiguous, and the resume id consistent.
        #[test]
        fn buffered_bytes_is_the_sum_of_unacked_frames(
            ops in proptest::collection::vec(prop_oneof![
                (0usize..200).prop_map(Ok),
                (0u64..40).prop_map(Err),
            ], 0..200)
        ) {
            let mut buf = SendBuffer::new(500);
            let mut model: Vec<(u64, usize)> = Vec::new();
            for op in ops {
                match op {
                    Ok(len) => {
                        let id = buf.push(frame(len));
                        model.push((id, len));
                    }
                    Err(ack) => {
                        let res = buf.ack(ack);
                        if ack > buf.total_sent() {
                            prop_assert!(res.is_err());
                        } else {
                            prop_assert!(res.is_ok());
                            model.retain(|(id, _)| *id > ack);
                        }
                    }
                }
                let sum: usize = model.iter().map(|(_, l)| l).sum();
                prop_assert_eq!(buf.buffered_bytes(), sum);
                prop_assert_eq!(buf.is_full(), sum >= 500);
                let ids: Vec<u64> = buf.replay().map(|(id, _)| id).collect();
                prop_assert_eq!(&ids, &model.iter().map(|(id, _)| *id).collect::<Vec<_>>());
                prop_assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
                prop_assert_eq!(
                    buf.resume_sequence_id(),
                    ids.first().copied().unwrap_or(buf.total_sent() + 1)
                );
            }
        }

        /// Kill-and-reattach simulation of one direction: the link delivers a random prefix of
        /// what is in flight before dying, Acks back may be lost; after every reattach the
        /// sender announces Sequence and replays. The receiver must process every message
        /// exactly once, in order.
        #[test]
        fn exactly_once_across_reattaches(
            rounds in proptest::collection::vec(
                (0usize..6, 0usize..10, any::<bool>(), 0u64..3_000), 1..12)
        ) {
            let mut tx = SendBuffer::new(usize::MAX);
            let mut rx = ReceiveTracker::default();
            let mut processed: Vec<u8> = Vec::new();
            let mut next_payload = 0u8;
            let mut now = 0u64;
            let mut in_flight: Vec<Bytes> = Vec::new();
            for (new_sends, delivered, ack_survives, wait) in rounds {
                for _ in 0..new_sends {
                    let f = Bytes::from(vec![next_payload]);
                    next_payload = next_payload.wrapping_add(1);
                    tx.push(f.clone());
                    in_flight.push(f);
                }
                // The link delivers a prefix, then time passes and an Ack may get back.
                let delivered = delivered.min(in_flight.len());
                for f in in_flight.drain(..delivered) {
                    if rx.on_trackable(Instant(now)) == Delivery::New {
                        processed.push(f[0]);
                    }
                }
                now += wait;
                let ack = rx.poll_ack(Instant(now));
                if let (Some(ack), true) = (ack, ack_survives) {
                    tx.ack(ack).unwrap();
                }
                // The transport dies: the rest in flight is lost; reattach.
                in_flight.clear();
                rx.begin_reattach();
                rx.on_sequence(tx.resume_sequence_id()).unwrap();
                in_flight.extend(tx.replay().map(|(_, f)| f));
            }
            // A final clean delivery of everything still in flight.
            for f in in_flight.drain(..) {
                if rx.on_trackable(Instant(now)) == Delivery::New {
                    processed.push(f[0]);
                }
            }
            let expected: Vec<u8> = (0..tx.total_sent()).map(|i| i as u8).collect();
            prop_assert_eq!(processed, expected);
        }
    }
}
