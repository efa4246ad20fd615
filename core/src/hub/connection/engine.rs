//! The part both sides share: the codec, keep-alive and stateful reconnect around one
//! transport. Knows message *types* (Ping, Ack, Sequence, trackable or not) but not what an
//! invocation means.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::{ConnectionOptions, ConnectionStats, ProtocolViolation, Transmit};
use crate::hub::codec::{self, CodecError, HubDecoder};
use crate::hub::keepalive::{KeepAlive, KeepAliveAction, KeepAliveConfig};
use crate::hub::stateful::{Admission, ReceiveTracker, SendBuffer};
use crate::hub::{HubMessage, HubProtocol, TransferFormat};
use crate::time::Instant;

/// What a timer firing means for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimerOutcome {
    Nothing,
    TimedOut,
}

/// Stateful-reconnect state of one open connection.
struct Stateful {
    send: SendBuffer,
    receive: ReceiveTracker,
}

pub(super) struct Engine {
    protocol: HubProtocol,
    options: ConnectionOptions,
    decoder: HubDecoder,
    keep_alive: KeepAlive,
    stateful: Option<Stateful>,
    /// `false` while a stateful connection waits for its transport to be re-attached.
    attached: bool,
    transmits: VecDeque<Transmit>,
    scratch: BytesMut,
    pub(super) stats: ConnectionStats,
}

impl Engine {
    pub(super) fn new(
        protocol: HubProtocol,
        options: &ConnectionOptions,
        stateful: bool,
        now: Instant,
    ) -> Engine {
        let keep_alive = KeepAlive::new(
            KeepAliveConfig {
                interval: options.keep_alive_interval,
                timeout: options.timeout,
                enabled: options.keep_alive_enabled,
            },
            now,
        );
        Engine {
            protocol,
            options: options.clone(),
            decoder: HubDecoder::new(protocol, options.max_message_size),
            keep_alive,
            stateful: stateful.then(|| Stateful {
                send: SendBuffer::new(options.stateful_buffer_bytes),
                receive: ReceiveTracker::new(options.ack_interval),
            }),
            attached: true,
            transmits: VecDeque::new(),
            scratch: BytesMut::new(),
            stats: ConnectionStats::default(),
        }
    }

    pub(super) fn protocol(&self) -> HubProtocol {
        self.protocol
    }

    pub(super) fn is_stateful(&self) -> bool {
        self.stateful.is_some()
    }

    pub(super) fn is_attached(&self) -> bool {
        self.attached
    }

    /// Whether the replay buffer is at its byte limit (stateful only): the driver should hold
    /// back application sends until an Ack frees room.
    pub(super) fn is_send_buffer_full(&self) -> bool {
        self.stateful.as_ref().is_some_and(|s| s.send.is_full())
    }

    fn binary(&self) -> bool {
        self.protocol.transfer_format() == TransferFormat::Binary
    }

    /// Queues a frame outside the hub message stream (the handshake), in the given format.
    pub(super) fn push_raw(&mut self, data: Bytes, binary: bool, now: Instant) {
        self.keep_alive.on_send(now);
        self.transmits.push_back(Transmit { data, binary });
    }

    /// Encodes and sends one message (buffered for replay when trackable and stateful).
    pub(super) fn send(&mut self, message: &HubMessage, now: Instant) -> Result<(), CodecError> {
        self.scratch.clear();
        codec::encode(self.protocol, message, &mut self.scratch)?;
        let frame = self.scratch.split().freeze();
        self.send_encoded(frame, message.is_trackable(), now);
        Ok(())
    }

    /// Sends a message already encoded (and framed) in this connection's protocol; used for
    /// fan-out where one encoding serves many connections.
    pub(super) fn send_encoded(&mut self, frame: Bytes, trackable: bool, now: Instant) {
        self.stats.messages_sent += 1;
        if trackable && let Some(stateful) = &mut self.stateful {
            stateful.send.push(frame.clone());
        }
        if self.attached {
            self.keep_alive.on_send(now);
            let binary = self.binary();
            self.transmits.push_back(Transmit {
                data: frame,
                binary,
            });
        }
    }

    pub(super) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Takes bytes from the transport.
    pub(super) fn feed(&mut self, data: &[u8], now: Instant) {
        self.keep_alive.on_receive(now);
        self.decoder.feed(data);
    }

    /// The next message for the role to interpret. Ping, Ack, Sequence and duplicates are
    /// handled here and never returned.
    pub(super) fn next_message(
        &mut self,
        now: Instant,
    ) -> Result<Option<HubMessage>, ProtocolViolation> {
        loop {
            let Some(message) = self.decoder.next_message()? else {
                return Ok(None);
            };
            self.stats.messages_received += 1;
            match (&message, &mut self.stateful) {
                (HubMessage::Ping, _) => self.stats.pings_received += 1,
                (HubMessage::Ack { sequence_id }, Some(stateful)) => {
                    stateful.send.ack(*sequence_id)?;
                }
                // Without stateful reconnect Ack and Sequence mean nothing; ignore them.
                (HubMessage::Ack { .. } | HubMessage::Sequence { .. }, None) => {}
                (_, Some(stateful)) => match stateful.receive.admit(now, &message)? {
                    Admission::Process => return Ok(Some(message)),
                    Admission::Duplicate => self.stats.duplicates_dropped += 1,
                    Admission::Resequenced | Admission::Ignored => {}
                },
                (_, None) => return Ok(Some(message)),
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let keep_alive = if self.attached {
            self.keep_alive.poll_timeout()
        } else {
            None
        };
        let ack = self
            .stateful
            .as_ref()
            .filter(|_| self.attached)
            .and_then(|s| s.receive.poll_timeout());
        [keep_alive, ack].into_iter().flatten().min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        if !self.attached {
            return TimerOutcome::Nothing;
        }
        if let Some(stateful) = &mut self.stateful
            && let Some(sequence_id) = stateful.receive.poll_ack(now)
        {
            self.stats.acks_sent += 1;
            // Ack is not trackable: never buffered, sent even while the buffer is full.
            let _ = self.send(&HubMessage::Ack { sequence_id }, now);
        }
        match self.keep_alive.handle_timeout(now) {
            Some(KeepAliveAction::SendPing) => {
                self.stats.pings_sent += 1;
                let _ = self.send(&HubMessage::Ping, now);
                TimerOutcome::Nothing
            }
            Some(KeepAliveAction::TimedOut) => TimerOutcome::TimedOut,
            None => TimerOutcome::Nothing,
        }
    }

    /// The transport went away without a clean close. Returns whether the connection may be
    /// resumed (stateful reconnect); if not, the caller ends it.
    pub(super) fn transport_lost(&mut self) -> bool {
        self.attached = false;
        self.transmits.clear();
        self.stateful.is_some()
    }

    /// A new transport replaced the lost one: send Sequence and replay everything un-acked,
    /// then ignore the peer until its own Sequence arrives.
    pub(super) fn transport_reattached(&mut self, now: Instant) {
        let Some(stateful) = &mut self.stateful else {
            return;
        };
        self.attached = true;
        self.decoder = HubDecoder::new(self.protocol, self.options.max_message_size);
        self.keep_alive.on_receive(now);
        stateful.receive.begin_reattach();
        let sequence_id = stateful.send.resume_sequence_id();
        let replay: Vec<Bytes> = stateful.send.replay().map(|(_, frame)| frame).collect();
        self.stats.sequences_sent += 1;
        let _ = self.send(&HubMessage::Sequence { sequence_id }, now);
        let binary = self.binary();
        for data in replay {
            self.transmits.push_back(Transmit { data, binary });
        }
    }
}
