//! The demo hub and the demo server around it: what `interlink hub serve` and
//! `interlink demo` run, and what the Node / Python interop suites (`tests/hub/`) call.
//!
//! Routes: `/demo` (the hub, every transport, JSON + MessagePack), `/redirect` (negotiate
//! sends the client to `/client/?hub=demo` with a bearer token) and `/client/?hub=demo`
//! (the same hub; every request needs the token as `Authorization: Bearer` or
//! `access_token`, else 401).
//!
//! Methods (exact names): `echo(value)`, `add(a, b)`, `counter(count, delayMs)` (stream),
//! `sum(stream)` (upload), `broadcast(text)`, `joinGroup(name)`, `leaveGroup(name)`,
//! `sendToGroup(name, text)` (these three and broadcast call `message(connectionId, text)`
//! on the clients), `ask(value)` (client result of `question(value)`), `whoami()`,
//! `closeMe(error, allowReconnect)`, `dropTransport()`, `silence(ms)`, `connectionInfo()`.
//!
//! What it does not do: nothing beyond a demo — no persistence, one process.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{StreamExt as _, stream};
use interlink_core::hub::RawValue;
use serde_json::{Value, json};

use super::{Hub, HubContext, HubError, HubHandle, HubOptions, HubService};
use crate::hub::transport::{
    HubRoute, HubServer, HubServerOptions, NegotiateMode, Principal, TransportOptions, Unauthorized,
};

/// Settings of the demo server.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where to listen (`127.0.0.1:0` = an OS-chosen port).
    pub bind: SocketAddr,
    /// Hub settings (the connection timings come from here).
    pub hub: HubOptions,
    /// Grant stateful reconnect on `/demo` and `/client`.
    pub stateful_reconnect: bool,
    /// The bearer token of `/client`; random when `None`.
    pub token: Option<String>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            // Client results (`ask`) wait for the client: let other calls run meanwhile.
            hub: HubOptions {
                max_parallel_invocations: 8,
                ..HubOptions::default()
            },
            stateful_reconnect: true,
            token: None,
        }
    }
}

/// A running demo server.
#[derive(Debug)]
pub struct DemoServer {
    server: HubServer,
    handle: HubHandle,
    token: String,
}

impl DemoServer {
    /// Binds and serves the three routes.
    pub async fn start(options: DemoOptions) -> std::io::Result<DemoServer> {
        // The redirect URL names the port, so the port is chosen before the routes exist.
        let bind = if options.bind.port() == 0 {
            let probe = std::net::TcpListener::bind(options.bind)?;
            probe.local_addr()?
        } else {
            options.bind
        };
        let token = options.token.clone().unwrap_or_else(random_token);
        let transport = TransportOptions {
            stateful_reconnect: options.stateful_reconnect,
            ..TransportOptions::default()
        };
        let demo = HubRoute::new("/demo").with_options(transport.clone());
        let redirect = HubRoute::new("/redirect").with_negotiate(NegotiateMode::Redirect {
            url: format!("http://{bind}/client/?hub=demo"),
            access_token: token.clone(),
        });
        let expected = token.clone();
        let client = HubRoute::new("/client")
            .with_hub("demo")
            .with_options(transport)
            .with_auth(move |req| match req.token {
                Some(t) if t == expected => Ok(Principal::default()),
                _ => Err(Unauthorized),
            });
        let service = HubService::new(demo_hub(), options.hub);
        for route in [&demo, &redirect, &client] {
            service.serve(route.acceptor());
        }
        let server = HubServer::start(HubServerOptions {
            bind,
            tls: None,
            routes: vec![demo, redirect, client],
        })
        .await?;
        Ok(DemoServer {
            server,
            handle: service.handle(),
            token,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The bearer token of `/client`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The hub, for application-side sends.
    pub fn handle(&self) -> HubHandle {
        self.handle.clone()
    }

    /// Closes every connection and stops serving.
    pub async fn shutdown(self) {
        self.server.shutdown().await
    }
}

fn random_token() -> String {
    let mut rng = fastrand::Rng::with_seed(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32,
    );
    (0..32)
        .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0'))
        .collect()
}

fn number(ctx: &HubContext, v: &Value) -> Result<RawValue, HubError> {
    ctx.value(v)
}

/// Adds two JSON numbers: integers stay integers while they fit.
fn add_numbers(a: &Value, b: &Value) -> Result<Value, HubError> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
        && let Some(sum) = x.checked_add(y)
    {
        return Ok(json!(sum));
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Ok(json!(x + y)),
        _ => Err(HubError::Hub("add takes two numbers".into())),
    }
}

fn message_args(ctx: &HubContext, text: &RawValue) -> Result<Vec<RawValue>, HubError> {
    Ok(vec![ctx.value(ctx.connection_id())?, text.clone()])
}

/// The demo hub's methods (see the module docs).
pub fn demo_hub() -> Hub {
    Hub::new()
        .method("echo", 1, |_ctx, args| async move {
            Ok(Some(args.raw(0)?.clone()))
        })
        .method("add", 2, |ctx, args| async move {
            let sum = add_numbers(&args.get(0)?, &args.get(1)?)?;
            Ok(Some(number(&ctx, &sum)?))
        })
        .stream_method("counter", 2, |ctx, args| {
            let setup = (|| Ok::<_, HubError>((args.get::<u64>(0)?, args.get::<u64>(1)?)))();
            match setup {
                Err(e) => stream::iter(vec![Err(e)]).boxed(),
                Ok((count, delay)) => stream::unfold(0u64, move |i| {
                    let ctx = ctx.clone();
                    async move {
                        if i >= count {
                            return None;
                        }
                        smol::Timer::after(Duration::from_millis(delay)).await;
                        Some((ctx.value(&i), i + 1))
                    }
                })
                .boxed(),
            }
        })
        .upload_method("sum", 0, 1, |ctx, mut args| async move {
            let mut upload = args
                .take_upload(0)
                .ok_or_else(|| HubError::Internal("upload stream missing".into()))?;
            let mut total = json!(0);
            while let Some(item) = upload.next_as::<Value>().await? {
                total = add_numbers(&total, &item)?;
            }
            Ok(Some(ctx.value(&total)?))
        })
        .method("broadcast", 1, |ctx, args| async move {
            let message = message_args(&ctx, args.raw(0)?)?;
            ctx.clients().all().send("message", message)?;
            Ok(None)
        })
        .method("joinGroup", 1, |ctx, args| async move {
            ctx.groups()
                .add(ctx.connection_id(), &args.get::<String>(0)?)?;
            Ok(None)
        })
        .method("leaveGroup", 1, |ctx, args| async move {
            ctx.groups()
                .remove(ctx.connection_id(), &args.get::<String>(0)?)?;
            Ok(None)
        })
        .method("sendToGroup", 2, |ctx, args| async move {
            let message = message_args(&ctx, args.raw(1)?)?;
            ctx.clients()
                .group(&args.get::<String>(0)?)
                .send("message", message)?;
            Ok(None)
        })
        .method("ask", 1, |ctx, args| async move {
            let answer = ctx
                .invoke_caller("question", vec![args.raw(0)?.clone()])
                .await?;
            Ok(Some(answer))
        })
        .method("whoami", 0, |ctx, _args| async move {
            Ok(Some(ctx.value(ctx.connection_id())?))
        })
        .method("closeMe", 2, |ctx, args| async move {
            let error: Option<String> = args.get(0)?;
            let allow: Option<bool> = args.get(1)?;
            ctx.close(error, allow.unwrap_or(false))?;
            Ok(None)
        })
        .method("dropTransport", 0, |ctx, _args| async move {
            ctx.abort()?;
            Ok(None)
        })
        .method("silence", 1, |ctx, args| async move {
            ctx.mute(Duration::from_millis(args.get::<u64>(0)?))?;
            Ok(None)
        })
        .method("connectionInfo", 0, |ctx, _args| async move {
            let info = ctx.connection_info().await?;
            let body = json!({
                "connectionId": info.connection_id,
                "protocol": info.protocol.name(),
                "version": info.version,
                "transport": info.transport.name(),
                "statefulReconnect": info.stateful,
                "acksSent": info.stats.acks_sent,
                "sequencesSent": info.stats.sequences_sent,
                "pingsReceived": info.stats.pings_received,
            });
            Ok(Some(ctx.value(&body)?))
        })
}
