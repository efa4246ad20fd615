//! One connection of the test hub: the core [`ServerConnection`] on a socket, the hub
//! methods (see [`super::server`]), test controls, and waiting for a stateful re-attach.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use futures_lite::future;
use interlink_core::hub::{
    CompletionResult, ConnectionOptions, HubProtocol, Invocation, RawValue, ServerConnection,
    ServerEvent, TransferFormat,
};
use interlink_core::time::Instant;
use interlink_core::ws::{Connection, ConnectionConfig, Event, Message, Role};

use super::server::{BOTH, HubState, Phase, ServerCtl};
use crate::net::Upgraded;
use crate::ws::{DriveOptions, DriverEvent, WsCommand, drive};

/// The server side of one socket; dropping it drops the socket without a Close frame.
struct Link {
    commands: async_channel::Sender<WsCommand>,
    events: async_channel::Receiver<DriverEvent>,
    _task: smol::Task<()>,
}

fn start_link(stream: Upgraded) -> Link {
    let (ctx, crx) = async_channel::unbounded();
    let (etx, erx) = async_channel::bounded(64);
    let conn = Connection::new(ConnectionConfig::new(Role::Server), fastrand::u64(..));
    let task = smol::spawn(async move {
        drive(stream, &[], conn, crx, etx, |e| e, DriveOptions::default()).await;
    });
    Link {
        commands: ctx,
        events: erx,
        _task: task,
    }
}

/// The hub methods' state on one connection.
#[derive(Default)]
struct App {
    protocol: Option<HubProtocol>,
    producers: HashMap<String, smol::Task<()>>,
    /// Upload stream id → owning invocation id.
    uploads: HashMap<String, String>,
    /// Owning invocation id → (uploads still open, sum so far).
    sums: HashMap<String, (usize, i64)>,
    /// Our call to the client → the client call that asked for it.
    asks: HashMap<String, String>,
    replies: HashMap<String, oneshot::Sender<CompletionResult>>,
}

fn int(v: &RawValue) -> i64 {
    v.to_serde::<i64>().unwrap_or_default()
}

impl App {
    fn value<T: serde::Serialize>(&self, v: &T) -> RawValue {
        RawValue::from_serde(self.protocol.unwrap_or(HubProtocol::Json), v).unwrap()
    }

    fn event(
        &mut self,
        ev: ServerEvent,
        conn: &mut ServerConnection,
        now: Instant,
        hub: &HubState,
        id: &str,
        ctl: &async_channel::Sender<ServerCtl>,
    ) {
        match ev {
            ServerEvent::Connected(n) => {
                self.protocol = Some(n.protocol);
                hub.record(format!("connected {id} stateful={}", n.stateful));
            }
            ServerEvent::Invocation(inv) => self.call(inv, conn, now, hub, id),
            ServerEvent::StreamInvocation(inv) => {
                let call_id = inv.invocation_id.clone().unwrap_or_default();
                let n = inv.arguments.first().map_or(0, int);
                let ms = inv.arguments.get(1).map_or(10, int) as u64;
                let (tx, cid) = (ctl.clone(), call_id.clone());
                let task = smol::spawn(async move {
                    for i in 0..n {
                        async_io::Timer::after(Duration::from_millis(ms)).await;
                        let tick = ServerCtl::Tick {
                            id: cid.clone(),
                            value: Some(i),
                        };
                        let _ = tx.send(tick).await;
                    }
                    let _ = tx
                        .send(ServerCtl::Tick {
                            id: cid,
                            value: None,
                        })
                        .await;
                });
                self.producers.insert(call_id, task);
            }
            ServerEvent::Cancel { invocation_id } => {
                hub.record(format!("cancel {invocation_id}"));
                self.producers.remove(&invocation_id);
                let _ = conn.complete(&invocation_id, CompletionResult::Void, now);
            }
            ServerEvent::UploadItem { stream_id, item } => {
                if let Some(owner) = self.uploads.get(&stream_id)
                    && let Some(sum) = self.sums.get_mut(owner)
                {
                    sum.1 += int(&item);
                }
            }
            ServerEvent::UploadComplete { stream_id, .. } => {
                let Some(owner) = self.uploads.remove(&stream_id) else {
                    return;
                };
                let done = self.sums.get_mut(&owner).map(|s| {
                    s.0 -= 1;
                    (s.0 == 0).then_some(s.1)
                });
                if let Some(Some(total)) = done {
                    self.sums.remove(&owner);
                    hub.record(format!("sum {total}"));
                    let v = self.value(&total);
                    let _ = conn.complete(&owner, CompletionResult::Value(v), now);
                }
            }
            ServerEvent::ClientResult {
                invocation_id,
                result,
            } => {
                if let Some(owner) = self.asks.remove(&invocation_id) {
                    let _ = conn.complete(&owner, result, now);
                } else if let Some(tx) = self.replies.remove(&invocation_id) {
                    let _ = tx.send(result);
                }
            }
            ServerEvent::TransportLost => hub.record(format!("lost {id}")),
            ServerEvent::Resumed => hub.record(format!("resumed {id}")),
            ServerEvent::Closed(reason) => hub.record(format!("closed {id} {reason:?}")),
        }
    }

    fn call(
        &mut self,
        inv: Invocation,
        conn: &mut ServerConnection,
        now: Instant,
        hub: &HubState,
        id: &str,
    ) {
        let args = &inv.arguments;
        let result = match inv.target.as_str() {
            "Echo" => CompletionResult::Value(args[0].clone()),
            "Add" => CompletionResult::Value(self.value(&(int(&args[0]) + int(&args[1])))),
            "Fail" => CompletionResult::Error(args[0].to_serde().unwrap()),
            "Void" => CompletionResult::Void,
            "ConnectionId" => CompletionResult::Value(self.value(&id)),
            "Hang" => return,
            "Notify" => {
                hub.record(format!("notify {}", int(&args[0])));
                let _ = conn.invoke("Notified", args.clone(), now);
                CompletionResult::Void
            }
            "Sum" => {
                let owner = inv.invocation_id.clone().unwrap_or_default();
                for s in &inv.stream_ids {
                    self.uploads.insert(s.clone(), owner.clone());
                }
                self.sums.insert(owner, (inv.stream_ids.len(), 0));
                return;
            }
            "AskClient" => {
                let method: String = args[0].to_serde().unwrap();
                if let (Ok(ask), Some(owner)) = (
                    conn.invoke_with_result(&method, vec![args[1].clone()], now),
                    inv.invocation_id.clone(),
                ) {
                    self.asks.insert(ask, owner);
                }
                return;
            }
            "CloseMe" => {
                let error: Option<String> = args[0].to_serde().unwrap();
                conn.close(error, int(&args[1]) != 0, now);
                return;
            }
            other => CompletionResult::Error(format!("Unknown hub method '{other}'")),
        };
        if let Some(call_id) = &inv.invocation_id {
            let _ = conn.complete(call_id, result, now);
        }
    }
}

enum Wake {
    Link(Option<DriverEvent>),
    Ctl(Option<ServerCtl>),
    Timer,
}

pub(super) async fn run_connection(
    hub: Arc<HubState>,
    token: String,
    stream: Upgraded,
    ctl: async_channel::Receiver<ServerCtl>,
    ctl_tx: async_channel::Sender<ServerCtl>,
) {
    let (id, stateful) = {
        let conns = hub.conns.lock().unwrap();
        let e = &conns[&token];
        (e.connection_id.clone(), e.stateful)
    };
    let options = ConnectionOptions {
        keep_alive_interval: hub.config.keep_alive,
        ack_interval: Duration::from_millis(50),
        ..ConnectionOptions::default()
    };
    let mut conn =
        ServerConnection::new(options, TransferFormat::Binary, stateful, &BOTH, hub.now());
    let mut link = Some(start_link(stream));
    let mut clean = false;
    let mut app = App::default();
    loop {
        let mut closed = false;
        loop {
            let mut moved = false;
            while let Some(t) = conn.poll_transmit() {
                moved = true;
                if let Some(l) = &link {
                    let cmd = if t.binary {
                        WsCommand::Binary(t.data)
                    } else {
                        WsCommand::Text(String::from_utf8(t.data.to_vec()).unwrap())
                    };
                    let _ = l.commands.try_send(cmd);
                }
            }
            while let Some(ev) = conn.poll_event() {
                moved = true;
                closed |= matches!(ev, ServerEvent::Closed(_));
                app.event(ev, &mut conn, hub.now(), &hub, &id, &ctl_tx);
            }
            if !moved {
                break;
            }
        }
        if closed {
            if let Some(l) = link.take() {
                let _ = l.commands.try_send(WsCommand::Close {
                    code: 1000,
                    reason: String::new(),
                });
                let drain = async { while l.events.recv().await.is_ok() {} };
                future::or(drain, async {
                    async_io::Timer::after(Duration::from_secs(1)).await;
                })
                .await;
            }
            if let Some(e) = hub.conns.lock().unwrap().get_mut(&token) {
                e.phase = Phase::Ended;
            }
            return;
        }
        let deadline = conn
            .poll_timeout()
            .map(|t| hub.origin + Duration::from_millis(t.0));
        let wake = {
            let socket = async {
                match &link {
                    Some(l) => Wake::Link(l.events.recv().await.ok()),
                    None => future::pending().await,
                }
            };
            let control = async { Wake::Ctl(ctl.recv().await.ok()) };
            let timer = async {
                match deadline {
                    Some(at) => {
                        async_io::Timer::at(at).await;
                        Wake::Timer
                    }
                    // A lost stateful connection waits at most 10 s to be re-attached.
                    None => {
                        async_io::Timer::after(Duration::from_secs(10)).await;
                        Wake::Timer
                    }
                }
            };
            future::or(socket, future::or(control, timer)).await
        };
        let now = hub.now();
        match wake {
            Wake::Link(Some(DriverEvent::Ws(Event::Message(Message::Text(t))))) => {
                conn.handle_data(t.as_bytes(), now)
            }
            Wake::Link(Some(DriverEvent::Ws(Event::Message(Message::Binary(b))))) => {
                conn.handle_data(&b, now)
            }
            Wake::Link(Some(DriverEvent::Ws(Event::Close(_)))) => clean = true,
            Wake::Link(Some(DriverEvent::Ws(_))) => {}
            Wake::Link(_) => {
                link = None;
                if clean {
                    conn.handle_transport_closed();
                } else {
                    conn.handle_transport_lost();
                }
            }
            Wake::Ctl(None) => return,
            Wake::Ctl(Some(c)) => match c {
                ServerCtl::Attach(stream) => {
                    link = Some(start_link(stream));
                    clean = false;
                    conn.handle_transport_reattached(now);
                }
                ServerCtl::Abort => {
                    link = None;
                    conn.handle_transport_lost();
                }
                ServerCtl::Kill => {
                    if let Some(e) = hub.conns.lock().unwrap().get_mut(&token) {
                        e.phase = Phase::Ended;
                    }
                    hub.record(format!("killed {id}"));
                    return;
                }
                ServerCtl::Close {
                    error,
                    allow_reconnect,
                } => conn.close(error, allow_reconnect, now),
                ServerCtl::Invoke {
                    method,
                    args,
                    reply,
                } => match reply {
                    Some(tx) => {
                        if let Ok(call) = conn.invoke_with_result(&method, args, now) {
                            app.replies.insert(call, tx);
                        }
                    }
                    None => {
                        let _ = conn.invoke(&method, args, now);
                    }
                },
                ServerCtl::Stats(tx) => {
                    let _ = tx.send(conn.stats());
                }
                ServerCtl::Tick { id, value } => {
                    let _ = match value {
                        Some(v) => conn.stream_item(&id, app.value(&v), now),
                        None => conn.complete(&id, CompletionResult::Void, now),
                    };
                }
            },
            Wake::Timer => {
                if link.is_none() && conn.poll_timeout().is_none() {
                    conn.handle_transport_closed();
                } else {
                    conn.handle_timeout(now);
                }
            }
        }
    }
}
