//! The WebSockets transport: upgrade, then one task per socket that runs io's
//! [`drive`](crate::ws::drive) loop, hands received frames to the hub layer and writes
//! queued frames as text or binary messages.
//!
//! How a socket ends decides what happens to the connection: a Close frame (from either
//! side) is graceful and ends the connection; EOF or an error without one is a loss, which
//! keeps a stateful connection for a re-attach ([`TransportEvent::Lost`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_lite::future;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use interlink_core::hub::connections::{Ended, RequestError};
use interlink_core::hub::negotiate::TransportKind;
use interlink_core::ws::{self, Connection, ConnectionConfig, Event, OpCode, Role};

use super::TransportEvent;
use super::helpers;
use super::outbox::{Attachment, ConnShared, Next, Status};
use super::route::{RequestInfo, Route};
use crate::net::{self, Body};
use crate::ws::{DriveOptions, DriverEvent, WsCommand, drive};

/// How long our Close waits for the client's before the socket is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// `GET {path}` with `Upgrade: websocket`.
pub(super) async fn handle(
    route: Arc<Route>,
    mut req: Request<Incoming>,
    id: Option<String>,
    info: RequestInfo,
) -> Response<Body> {
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()));
    let key = match ws::check_upgrade_request(req.method().as_str(), headers) {
        Ok(upgrade) => upgrade.key,
        Err(e) => return helpers::text(e.http_status(), e.to_string()),
    };
    let attached = route.with_table(|st, now| -> Result<_, RequestError> {
        let attached = st.table.handle_websocket(now, id.as_deref())?;
        let conn = if attached.reattached {
            st.conns.get(&attached.token).cloned().map(|c| (c, None))
        } else {
            let (conn, events) = st.register(&route, &attached, TransportKind::WebSockets);
            Some((conn, Some(events)))
        };
        Ok((attached, conn))
    });
    let (attached, (conn, events)) = match attached {
        Ok((a, Some(conn))) => (a, conn),
        Ok((_, None)) => return helpers::text(404, "No Connection with that ID"),
        Err(e) => return helpers::text(e.status(), e.to_string()),
    };
    let (abort_tx, abort_rx) = async_channel::bounded(1);
    let attachment = Arc::new(Attachment::new(abort_tx));
    *conn.attachment.lock().unwrap_or_else(|p| p.into_inner()) = Some(attachment.clone());
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    let previous = conn
        .ws_done
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .replace(done_rx);
    if let Some(events) = events
        && !route.deliver(&conn, events, attached.stateful, info).await
    {
        return helpers::text(503, "Service Unavailable");
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task = Socket {
        route,
        conn,
        attachment,
        reattached: attached.reattached,
    };
    smol::spawn(task.run(on_upgrade, abort_rx, previous, done_tx)).detach();
    let mut resp = Response::new(net::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in ws::response_101_headers(&key, None) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

/// One attached socket of a connection.
struct Socket {
    route: Arc<Route>,
    conn: Arc<ConnShared>,
    attachment: Arc<Attachment>,
    reattached: bool,
}

impl Socket {
    /// Runs the socket until it ends, is aborted, or the server stops; then reports how it
    /// ended (`Lost` for a stateful loss). `done` is dropped last: a re-attach waits for it.
    async fn run(
        self,
        on_upgrade: hyper::upgrade::OnUpgrade,
        abort: async_channel::Receiver<()>,
        previous: Option<async_channel::Receiver<()>>,
        done: async_channel::Sender<()>,
    ) {
        let stop = self.route.stop.clone();
        let work = async {
            let stream = net::upgraded(on_upgrade).await.ok()?;
            if let Some(previous) = previous {
                // Ends (with an error) once the previous socket's task has finished.
                let _ = previous.recv().await;
            }
            if self.reattached {
                self.conn.outbox.set_status(Status::Open);
                let _ = self.conn.events.send(TransportEvent::Reattached).await;
            }
            Some(self.session(stream).await)
        };
        let interrupted = async {
            future::or(
                async {
                    let _ = abort.recv().await;
                },
                async {
                    let _ = stop.recv().await;
                },
            )
            .await;
            None
        };
        let graceful = future::or(work, interrupted).await.unwrap_or(false);
        let ended = self.attachment.end(&self.route, &self.conn.token, graceful);
        if ended == Ended::Inactive {
            self.conn.outbox.set_status(Status::Detached);
            let _ = self.conn.events.send(TransportEvent::Lost).await;
        }
        drop(done);
    }

    /// Moves frames both ways until the socket ends; `true` when a Close frame was sent or
    /// received (a graceful end).
    async fn session(&self, stream: net::Upgraded) -> bool {
        let mut config = ConnectionConfig::new(Role::Server);
        config.stream_fragments = true;
        config.limits.max_frame_payload = self.route.options.max_frame_bytes;
        config.limits.max_message_size = u64::MAX;
        let connection = Connection::new(config, fastrand::u64(..));
        let (cmd_tx, cmd_rx) = async_channel::bounded(16);
        let (ev_tx, ev_rx) = async_channel::bounded(16);
        let options = DriveOptions {
            echo_close: true,
            close_linger: CLOSE_LINGER,
        };
        let driver = drive(stream, &[], connection, cmd_rx, ev_tx, |e| e, options);
        let closed_by_us = AtomicBool::new(false);
        let reader = async {
            let mut peer_closed = false;
            while let Ok(event) = ev_rx.recv().await {
                match event {
                    DriverEvent::Ws(Event::Fragment { data, .. }) if !data.is_empty() => {
                        let _ = self.conn.events.send(TransportEvent::Data(data)).await;
                    }
                    DriverEvent::Ws(Event::Close(_)) => peer_closed = true,
                    DriverEvent::Ws(_) => {}
                    DriverEvent::Ended { error } => {
                        if let Some(error) = error {
                            tracing::debug!(connection = %self.conn.connection_id, %error, "hub websocket ended");
                        }
                        break;
                    }
                }
            }
            peer_closed
        };
        let writer = async {
            while let Next::Frames(frames) = self.conn.outbox.next().await {
                for frame in frames {
                    let opcode = if frame.binary {
                        OpCode::Binary
                    } else {
                        OpCode::Text
                    };
                    let command = WsCommand::Fragment {
                        opcode,
                        data: frame.data,
                        first: true,
                        fin: true,
                    };
                    if cmd_tx.send(command).await.is_err() {
                        return future::pending::<bool>().await;
                    }
                }
            }
            if matches!(self.conn.outbox.status(), Status::Closing | Status::Closed) {
                closed_by_us.store(true, Ordering::SeqCst);
                let _ = cmd_tx
                    .send(WsCommand::Close {
                        code: 1000,
                        reason: String::new(),
                    })
                    .await;
            }
            future::pending::<bool>().await
        };
        let socket = async {
            let (peer_closed, ()) = futures::join!(reader, driver);
            peer_closed
        };
        let peer_closed = future::or(socket, writer).await;
        peer_closed || closed_by_us.load(Ordering::SeqCst)
    }
}
