//! Opening one connection's transport: negotiate over HTTP (following redirects), then the
//! WebSocket upgrade, driven by [`crate::ws::drive`]. No hub protocol here.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use interlink_core::hub::negotiate::NegotiateResponse;
use interlink_core::ws::{Connection, ConnectionConfig, Role, generate_key};

use super::builder::Options;
use super::error::{HubClientError, body_excerpt};
use super::negotiate::{ConnectTarget, NegotiateFlow, NegotiateStep};
use crate::net::{self, ClientTls, HandshakeOutcome, Target, with_timeout};
use crate::ws::{DriveOptions, DriverEvent, WsCommand, drive};

/// Largest negotiate body read.
const MAX_NEGOTIATE_BODY: usize = 1 << 20;

/// Sent on negotiate and the upgrade.
const USER_AGENT: &str = concat!("interlink-hub/", env!("CARGO_PKG_VERSION"), " (Rust)");

/// A running WebSocket: commands in, driver events out. Dropping it drops the socket at once
/// (no Close frame): use [`WsLink::close`] for a clean end.
pub(crate) struct WsLink {
    pub commands: async_channel::Sender<WsCommand>,
    pub events: async_channel::Receiver<DriverEvent>,
    task: smol::Task<()>,
}

impl WsLink {
    /// Sends Close 1000 and waits (at most `limit`) for the socket to end.
    pub async fn close(self, limit: Duration) {
        let _ = self.commands.try_send(WsCommand::Close {
            code: 1000,
            reason: String::new(),
        });
        let events = self.events.clone();
        futures_lite::future::or(async move { while events.recv().await.is_ok() {} }, async {
            async_io::Timer::after(limit).await;
        })
        .await;
        drop(self.task);
    }
}

/// The headers of negotiate and the upgrade: the caller's, the user agent, the bearer token.
fn headers(options: &Options, token: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = options
        .headers
        .iter()
        .filter(|(n, _)| !(token.is_some() && n.eq_ignore_ascii_case("authorization")))
        .cloned()
        .collect();
    if !out
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
    {
        out.push(("User-Agent".into(), USER_AGENT.into()));
    }
    if let Some(token) = token {
        out.push(("Authorization".into(), format!("Bearer {token}")));
    }
    out
}

/// Negotiates (unless skipped) and returns the WebSocket to open with its headers.
pub(crate) async fn negotiate(
    options: &Options,
) -> Result<(ConnectTarget, Vec<(String, String)>), HubClientError> {
    let token = options.access_token.get().await;
    let mut flow = NegotiateFlow::new(
        &options.url,
        token,
        options.stateful_reconnect,
        options.protocol.transfer_format(),
    );
    let target = if options.skip_negotiation {
        flow.skip()?
    } else {
        loop {
            let (url, stateful) = flow.request()?;
            let hdrs = headers(options, flow.access_token());
            let response = post_negotiate(&url, &hdrs, stateful, options).await?;
            match flow.handle(response)? {
                NegotiateStep::Again => continue,
                NegotiateStep::Connect(target) => break target,
            }
        }
    };
    let hdrs = headers(options, target.access_token.as_deref());
    Ok((target, hdrs))
}

async fn post_negotiate(
    url: &str,
    hdrs: &[(String, String)],
    stateful: bool,
    options: &Options,
) -> Result<NegotiateResponse, HubClientError> {
    let target = parse_target(url)?;
    let mut builder = http::Request::post(target.path_and_query.as_str());
    for (name, value) in hdrs {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder
        .body(net::empty())
        .map_err(|_| net::NetError::InvalidHeader {
            name: "negotiate request".into(),
        })?;
    let body = with_timeout(options.http_timeout, async {
        let resp = net::request(&target, &options.tls, req).await?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_NEGOTIATE_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok((status, body))
    })
    .await;
    let (status, body): (u16, Bytes) = body?;
    match status {
        200 => Ok(NegotiateResponse::parse(&body, stateful)?),
        401 => Err(HubClientError::Unauthorized),
        status => Err(HubClientError::NegotiateStatus {
            status,
            body: body_excerpt(&body),
        }),
    }
}

fn parse_target(url: &str) -> Result<Target, HubClientError> {
    Target::parse(url).map_err(|e| HubClientError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// Opens the WebSocket at `url` within `limit` and starts its driver.
pub(crate) async fn open_websocket(
    url: &str,
    hdrs: &[(String, String)],
    tls: &ClientTls,
    limit: Duration,
) -> Result<WsLink, HubClientError> {
    let target = parse_target(url)?;
    let pairs: Vec<(&str, &str)> = hdrs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let outcome = with_timeout(limit, async {
        let stream = net::connect(&target, tls).await?;
        let key = generate_key(&mut fastrand::Rng::new());
        net::ws_handshake(stream, &target, &key, &[], &pairs).await
    })
    .await?;
    let (stream, leftover) = match outcome {
        HandshakeOutcome::Upgraded {
            stream, leftover, ..
        } => (stream, leftover),
        HandshakeOutcome::Refused { head, body } => {
            return Err(HubClientError::WebSocketRefused {
                status: head.status,
                body: body_excerpt(&body),
            });
        }
    };
    // Unbounded: the hub driver must never wait on the socket while the socket's driver
    // waits on it to read events.
    let (ctx, crx) = async_channel::unbounded();
    let (etx, erx) = async_channel::bounded(64);
    let conn = Connection::new(ConnectionConfig::new(Role::Client), fastrand::u64(..));
    let options = DriveOptions {
        echo_close: true,
        close_linger: Duration::from_secs(2),
    };
    let task = smol::spawn(async move {
        drive(stream, &leftover, conn, crx, etx, |e| e, options).await;
    });
    Ok(WsLink {
        commands: ctx,
        events: erx,
        task,
    })
}
