//! HTTP for the listener: building the handler's request, running the handler, and sending
//! the response back inline on the control channel or over a rendezvous socket (see the
//! response policy in `Listener::plan_response` of interlink-core).

use interlink_core::relay::http_headers::is_framing;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use futures_lite::future;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use interlink_core::relay::listener::{ResponsePlan as Plan, rendezvous_response_head};
use interlink_core::relay::message::{ControlMessage, Headers, RequestCommand};
use interlink_core::ws::{Event, OpCode};

use super::{
    CLOSE_WAIT, ListenerOptions, RequestInfo, Shared, TEXT_MAX_BYTES, open_ws, start_driven,
};
use crate::net::{self, Body, BodySender, channel_body};
use crate::relay::error::{ProtocolViolation, RelayError};
use crate::ws::{DriverEvent, WsCommand};

/// The request handed to the handler, built from a full `request` command.
pub(crate) fn build_request(
    cmd: &RequestCommand,
    body: Body,
    via_rendezvous: bool,
) -> Result<http::Request<Body>, http::Error> {
    let mut b = http::Request::builder()
        .method(cmd.method.as_deref().unwrap_or("GET"))
        .uri(cmd.request_target.as_deref().unwrap_or("/"));
    for (name, value) in cmd.request_headers.iter() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            b = b.header(n, v);
        }
    }
    b.extension(RequestInfo {
        id: cmd.id.clone(),
        remote_endpoint: cmd.remote_endpoint.clone(),
        via_rendezvous,
    })
    .body(body)
}

/// A response's status line and headers as the `response` message carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub reason: Option<String>,
    pub headers: Headers,
}

impl Head {
    pub(crate) fn of(parts: &http::response::Parts) -> Head {
        let mut headers = Headers::new();
        for (name, value) in &parts.headers {
            if is_framing(name.as_str()) {
                continue;
            }
            headers.append_joined(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        Head {
            status: parts.status.as_u16(),
            reason: Some(crate::net::reason_phrase(parts.status, &parts.extensions)),
            headers,
        }
    }

    fn status_only(status: u16) -> Head {
        Head {
            status,
            reason: None,
            headers: Headers::new(),
        }
    }
}

/// A response with no body and this status.
fn status_response(status: u16) -> http::Response<Body> {
    let mut r = http::Response::new(net::empty());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    r
}

/// Runs the handler on `request`: 400 if it cannot be built, 501 without a handler, 500
/// when the handler panics or takes longer than `handler_timeout`.
async fn call_handler(
    shared: &Shared,
    cmd: &RequestCommand,
    body: Body,
    via_rendezvous: bool,
) -> http::Response<Body> {
    let Ok(request) = build_request(cmd, body, via_rendezvous) else {
        return status_response(400);
    };
    let handler = shared
        .http
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let Some(handler) = handler else {
        return status_response(501);
    };
    let Ok(fut) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) else {
        return status_response(500);
    };
    let limit = shared.options.handler_timeout;
    let guarded = async { AssertUnwindSafe(fut).catch_unwind().await.ok() };
    let timeout = async {
        async_io::Timer::after(limit).await;
        None
    };
    match future::or(guarded, timeout).await {
        Some(r) => r,
        None => {
            tracing::debug!(request = %cmd.id, "relay HTTP handler panicked or timed out: 500");
            status_response(500)
        }
    }
}

/// Collects a small body within `limit`.
async fn collect(body: Body, limit: Duration) -> Option<Bytes> {
    future::or(
        async { body.collect().await.ok().map(|c| c.to_bytes()) },
        async {
            async_io::Timer::after(limit).await;
            None
        },
    )
    .await
}

pub(super) async fn handle_control_request(
    shared: Arc<Shared>,
    request: RequestCommand,
    body: Option<Bytes>,
) {
    let body = body.map(net::full).unwrap_or_else(net::empty);
    let response = call_handler(&shared, &request, body, false).await;
    let (parts, body) = response.into_parts();
    let head = Head::of(&parts);
    let plan =
        shared
            .core()
            .plan_response(body.size_hint().exact(), head.headers.byte_size(), true);
    if plan == Plan::Inline {
        let (head, bytes) = match collect(body, shared.options.handler_timeout).await {
            Some(b) => (head, b),
            None => (Head::status_only(500), Bytes::new()),
        };
        shared.core().respond_inline(
            &request.id,
            head.status,
            head.reason.as_deref(),
            head.headers,
            bytes,
        );
        shared.notify();
        return;
    }
    // Listener-initiated rendezvous: open the request's address and stream there.
    match Rendezvous::open(&request.address, &shared.options, false).await {
        Ok(rv) => {
            if let Err(e) = rv
                .respond(&request.id, head, body, plan, &shared.options)
                .await
            {
                tracing::debug!(error = %e, "streaming a relayed response failed");
            }
            rv.finish().await;
        }
        Err(e) => tracing::debug!(error = %e, "opening a response rendezvous failed"),
    }
}

pub(super) async fn handle_rendezvous_request(shared: Arc<Shared>, address: String) {
    let mut rv = match Rendezvous::open(&address, &shared.options, true).await {
        Ok(rv) => rv,
        Err(e) => return tracing::debug!(error = %e, "opening a request rendezvous failed"),
    };
    let request = match rv.read_request(shared.options.accept_timeout).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "reading a rendezvous request failed");
            let _ = rv
                .commands
                .send(WsCommand::Close {
                    code: 1002,
                    reason: "expected a request message".into(),
                })
                .await;
            return rv.finish().await;
        }
    };
    let mut pipe = None;
    let body = match rv.binary.take() {
        Some(binary) if request.has_body() => {
            let (tx, body) = channel_body(8);
            pipe = Some(smol::spawn(pipe_body(binary, tx)));
            body
        }
        _ => net::empty(),
    };
    let response = call_handler(&shared, &request, body, true).await;
    let (parts, body) = response.into_parts();
    let head = Head::of(&parts);
    let plan =
        shared
            .core()
            .plan_response(body.size_hint().exact(), head.headers.byte_size(), false);
    if let Err(e) = rv
        .respond(&request.id, head, body, plan, &shared.options)
        .await
    {
        tracing::debug!(error = %e, "answering a rendezvous request failed");
    }
    rv.finish().await;
    drop(pipe);
}

/// Moves a request body's fragments from the rendezvous into the handler's body. If the
/// handler drops the body, the rest is read and discarded so the socket keeps flowing.
async fn pipe_body(binary: async_channel::Receiver<(Bytes, bool)>, tx: BodySender) {
    let mut tx = Some(tx);
    loop {
        match binary.recv().await {
            Ok((data, fin)) => {
                if let Some(t) = &tx
                    && t.send(data).await.is_err()
                {
                    tx = None;
                }
                if fin {
                    return;
                }
            }
            Err(_) => {
                if let Some(t) = tx {
                    t.abort();
                }
                return;
            }
        }
    }
}

// ----- rendezvous sockets for HTTP ----------------------------------------------------------

/// A rendezvous socket opened for one HTTP request: the request comes in on it (relay-
/// initiated form) and the response goes out on it.
struct Rendezvous {
    commands: async_channel::Sender<WsCommand>,
    texts: async_channel::Receiver<String>,
    binary: Option<async_channel::Receiver<(Bytes, bool)>>,
    /// Closed once the relay sent Close or the socket ended.
    gone: async_channel::Receiver<()>,
    drive: smol::Task<()>,
    dispatch: smol::Task<()>,
}

impl Rendezvous {
    /// Opens `address` (verbatim, no token, no subprotocol). `request_body`: keep received
    /// binary fragments for [`Rendezvous::binary`]; otherwise they are discarded.
    async fn open(
        address: &str,
        options: &ListenerOptions,
        request_body: bool,
    ) -> Result<Rendezvous, RelayError> {
        let (stream, leftover, _) =
            open_ws(address, &[], &[], &options.tls, options.accept_timeout).await?;
        let (commands, events, drive) = start_driven(stream, leftover, Some(16));
        let (texts_tx, texts) = async_channel::bounded(4);
        let (binary_tx, binary) = async_channel::bounded(8);
        let (gone_tx, gone) = async_channel::bounded::<()>(1);
        let dispatch = smol::spawn(dispatch(events, texts_tx, binary_tx, gone_tx));
        Ok(Rendezvous {
            commands,
            texts,
            binary: request_body.then_some(binary),
            gone,
            drive,
            dispatch,
        })
    }

    /// Reads the full `request` message the relay sends first.
    async fn read_request(&self, limit: Duration) -> Result<RequestCommand, RelayError> {
        let text = future::or(async { self.texts.recv().await.ok() }, async {
            async_io::Timer::after(limit).await;
            None
        })
        .await
        .ok_or(ProtocolViolation::EndedEarly)?;
        match ControlMessage::parse(&text).map_err(ProtocolViolation::from)? {
            ControlMessage::Request(r) if !r.is_rendezvous_only() => Ok(r),
            _ => Err(ProtocolViolation::ExpectedRequest.into()),
        }
    }

    async fn send(&self, cmd: WsCommand) -> Result<(), RelayError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| RelayError::Closed)
    }

    /// Sends the `response` message and the body per `plan` (never [`Plan::Inline`]), then
    /// Close 1000. A body that fails midway closes with 1011 instead (the sender sees a
    /// truncated response); the relay closing the socket stops reading the body.
    async fn respond(
        &self,
        request_id: &str,
        head: Head,
        mut body: Body,
        plan: Plan,
        options: &ListenerOptions,
    ) -> Result<(), RelayError> {
        let message = |head: Head, has_body: bool| {
            WsCommand::Text(rendezvous_response_head(
                request_id,
                head.status,
                head.reason.as_deref(),
                head.headers,
                has_body,
            ))
        };
        if plan != Plan::Stream {
            let (head, bytes) = match collect(body, options.handler_timeout).await {
                Some(b) => (head, b),
                None => (Head::status_only(500), Bytes::new()),
            };
            self.send(message(head, !bytes.is_empty())).await?;
            if !bytes.is_empty() {
                self.send(WsCommand::Binary(bytes)).await?;
            }
        } else {
            self.send(message(head, true)).await?;
            let mut first = true;
            loop {
                let next = future::or(async { Some(body.frame().await) }, async {
                    let _ = self.gone.recv().await;
                    None
                })
                .await;
                let data = match next {
                    None => return Err(RelayError::Closed),
                    Some(None) => break,
                    Some(Some(Ok(frame))) => match frame.into_data() {
                        Ok(d) if !d.is_empty() => d,
                        _ => continue,
                    },
                    Some(Some(Err(e))) => {
                        tracing::debug!(error = %e, "relayed response body failed");
                        self.send(WsCommand::Close {
                            code: 1011,
                            reason: "the response body failed".into(),
                        })
                        .await?;
                        return Err(RelayError::Closed);
                    }
                };
                self.send(WsCommand::Fragment {
                    opcode: OpCode::Binary,
                    data,
                    first,
                    fin: false,
                })
                .await?;
                first = false;
            }
            self.send(WsCommand::Fragment {
                opcode: OpCode::Binary,
                data: Bytes::new(),
                first,
                fin: true,
            })
            .await?;
        }
        self.send(WsCommand::Close {
            code: 1000,
            reason: String::new(),
        })
        .await
    }

    /// Ends the socket: closes with 1000 unless a Close was sent, then waits (bounded) for
    /// the close handshake so nothing queued is cut off.
    async fn finish(self) {
        let Rendezvous {
            commands,
            texts,
            binary,
            drive,
            dispatch,
            ..
        } = self;
        drop((commands, texts, binary));
        future::or(drive, async {
            async_io::Timer::after(CLOSE_WAIT).await;
        })
        .await;
        dispatch.detach();
    }
}

/// Sorts a rendezvous socket's events: text messages (assembled), binary fragments (with
/// backpressure while someone reads them), and the end of the socket.
async fn dispatch(
    events: async_channel::Receiver<DriverEvent>,
    texts: async_channel::Sender<String>,
    binary: async_channel::Sender<(Bytes, bool)>,
    gone: async_channel::Sender<()>,
) {
    let mut gone = Some(gone);
    let mut text = Vec::new();
    while let Ok(event) = events.recv().await {
        match event {
            DriverEvent::Ws(Event::Fragment {
                opcode: OpCode::Text,
                data,
                fin,
                ..
            }) => {
                if text.len() + data.len() <= TEXT_MAX_BYTES {
                    text.extend_from_slice(&data);
                }
                if fin {
                    let t = String::from_utf8_lossy(&std::mem::take(&mut text)).into_owned();
                    let _ = texts.try_send(t);
                }
            }
            DriverEvent::Ws(Event::Fragment { data, fin, .. }) => {
                let _ = binary.send((data, fin)).await;
            }
            DriverEvent::Ws(Event::Close(_)) | DriverEvent::Ended { .. } => {
                binary.close();
                gone.take();
            }
            DriverEvent::Ws(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_hints_drive_the_policy() {
        use interlink_core::relay::address::Endpoint;
        use interlink_core::relay::listener::{Listener, ListenerConfig, TokenSource};
        let core = Listener::new(ListenerConfig::new(
            Endpoint::new(false, "h", None),
            "hc",
            TokenSource::Fixed("t".into()),
        ));
        let small = net::full(vec![0u8; 100]);
        assert_eq!(small.size_hint().exact(), Some(100));
        let (_tx, streaming) = channel_body(1);
        assert_eq!(streaming.size_hint().exact(), None);
        assert_eq!(
            core.plan_response(small.size_hint().exact(), 0, true),
            Plan::Inline
        );
        assert_eq!(
            core.plan_response(streaming.size_hint().exact(), 0, true),
            Plan::Stream
        );
    }

    #[test]
    fn builds_the_handler_request_from_a_request_command() {
        let text = r#"{"request":{"address":"ws://r/$hc/hc1?sb-hc-action=request&sb-hc-id=7","id":"7","requestTarget":"/hc1/a/b?x=1&y","method":"PUT","remoteEndpoint":{"address":"10.0.0.1","port":5},"requestHeaders":{"Content-Type":"text/plain","X-A":"v1, v2","Bad Name":"x"},"body":true}}"#;
        let ControlMessage::Request(cmd) = ControlMessage::parse(text).unwrap() else {
            panic!()
        };
        let req = build_request(&cmd, net::full("hi"), true).unwrap();
        assert_eq!(req.method(), http::Method::PUT);
        assert_eq!(req.uri().path(), "/hc1/a/b");
        assert_eq!(req.uri().query(), Some("x=1&y"));
        assert_eq!(req.headers()["content-type"], "text/plain");
        assert_eq!(req.headers()["x-a"], "v1, v2");
        assert_eq!(req.headers().len(), 2);
        let info = req.extensions().get::<RequestInfo>().unwrap();
        assert_eq!(info.id, "7");
        assert!(info.via_rendezvous);
        assert_eq!(info.remote_endpoint.as_ref().unwrap().port, 5);
    }

    #[test]
    fn response_head_drops_framing_headers_and_keeps_the_reason() {
        let mut resp = http::Response::builder()
            .status(201)
            .header("Content-Length", "5")
            .header("Transfer-Encoding", "chunked")
            .header("Connection", "close")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .header("X-Y", "z")
            .body(net::empty())
            .unwrap();
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b"Made It"));
        let (parts, _) = resp.into_parts();
        let head = Head::of(&parts);
        assert_eq!(head.status, 201);
        assert_eq!(head.reason.as_deref(), Some("Made It"));
        assert_eq!(
            head.headers.0,
            vec![
                ("set-cookie".to_string(), "a=1, b=2".to_string()),
                ("x-y".to_string(), "z".to_string())
            ]
        );
    }
}
