//! The life of a started client: the first connection (`start()`), then a supervisor task
//! that waits for each connection to end and, when a [`ReconnectPolicy`] allows, opens a new
//! one (full negotiate, new connection id) until `stop()` or the policy gives up.
//!
//! [`ReconnectPolicy`]: super::ReconnectPolicy

use std::sync::Arc;

use futures::channel::oneshot;
use futures_lite::future;
use interlink_core::hub::ClientConnection;

use super::connect::{negotiate, open_websocket};
use super::driver::{Channels, Driver, Outcome, Reopen};
use super::error::HubClientError;
use super::reconnect::RetryContext;
use super::{ConnHandle, HubClientEvent, HubClientState, Session, Shared};

/// A connection whose handshake completed, and its driver task.
struct Running {
    handle: ConnHandle,
    connection_id: Option<String>,
    task: smol::Task<Outcome>,
}

/// Negotiates, opens the WebSocket and runs the driver until the handshake is answered.
async fn open(
    shared: &Arc<Shared>,
    stop: &async_channel::Receiver<()>,
) -> Result<Running, HubClientError> {
    let options = &shared.options;
    let (target, headers) = negotiate(options).await?;
    let limit = options.connection.handshake_timeout;
    let ws = open_websocket(&target.websocket_url, &headers, &options.tls, limit).await?;
    let conn = ClientConnection::new(
        options.connection.clone(),
        options.protocol,
        target.stateful,
        shared.clock.now(),
    );
    let (commands_tx, commands) = async_channel::bounded(64);
    let (control_tx, control) = async_channel::unbounded();
    let channels = Channels {
        commands,
        commands_tx: commands_tx.clone(),
        control,
        control_tx: control_tx.clone(),
        stop: stop.clone(),
    };
    let reopen = Reopen {
        url: target.websocket_url.clone(),
        headers,
    };
    let (ready_tx, ready_rx) = oneshot::channel();
    let driver = Driver::new(shared.clone(), conn, ws, reopen, channels, ready_tx);
    let task = smol::spawn(driver.run());
    match ready_rx.await {
        Ok(Ok(())) => Ok(Running {
            handle: ConnHandle {
                commands: commands_tx,
                control: control_tx,
            },
            connection_id: target.connection_id,
            task,
        }),
        Ok(Err(e)) => {
            let _ = task.await;
            Err(e)
        }
        Err(_) => Err(HubClientError::StoppedDuringStart),
    }
}

/// [`open`], abandoned as soon as `stop` closes.
async fn open_or_stop(
    shared: &Arc<Shared>,
    stop: &async_channel::Receiver<()>,
) -> Result<Running, HubClientError> {
    future::or(open(shared, stop), async {
        let _ = stop.recv().await;
        Err(HubClientError::StoppedDuringStart)
    })
    .await
}

fn set_connected(shared: &Shared, running: &Running) {
    let mut state = shared.state();
    state.status = HubClientState::Connected;
    state.conn = Some(running.handle.clone());
    state.connection_id = running.connection_id.clone();
}

/// `start()`: the first connection; never retried. On success a supervisor task takes over.
pub(crate) async fn start(shared: &Arc<Shared>) -> Result<(), HubClientError> {
    let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    {
        let mut state = shared.state();
        if state.status != HubClientState::Disconnected {
            return Err(HubClientError::AlreadyStarted);
        }
        state.status = HubClientState::Connecting;
        state.session = Some(Session {
            stop: stop_tx,
            done: done_rx,
        });
    }
    match open_or_stop(shared, &stop_rx).await {
        Ok(running) => {
            set_connected(shared, &running);
            smol::spawn(supervise(shared.clone(), running, stop_rx, done_tx)).detach();
            Ok(())
        }
        Err(e) => {
            let mut state = shared.state();
            state.status = HubClientState::Disconnected;
            state.conn = None;
            state.session = None;
            drop(done_tx);
            Err(e)
        }
    }
}

/// Waits for each connection to end and reconnects while the policy allows.
async fn supervise(
    shared: Arc<Shared>,
    mut running: Running,
    stop: async_channel::Receiver<()>,
    done: async_channel::Sender<()>,
) {
    let error = loop {
        let outcome = (&mut running.task).await;
        {
            let mut state = shared.state();
            state.conn = None;
            state.connection_id = None;
        }
        let (error, reconnect) = match outcome {
            Outcome::Stopped => break None,
            Outcome::Ended { error, reconnect } => (error, reconnect),
        };
        if !reconnect || shared.options.reconnect.is_none() || stop.is_closed() {
            break error;
        }
        shared.state().status = HubClientState::Reconnecting;
        shared.emit(HubClientEvent::Reconnecting {
            error: error.clone(),
        });
        let reason = error.unwrap_or_else(|| {
            HubClientError::ConnectionClosed("Server closed the connection.".into())
        });
        match reconnect_loop(&shared, &stop, reason).await {
            Ok(next) => {
                running = next;
                set_connected(&shared, &running);
                shared.emit(HubClientEvent::Reconnected {
                    connection_id: running.connection_id.clone(),
                });
            }
            Err(error) => break error,
        }
    };
    {
        let mut state = shared.state();
        state.status = HubClientState::Disconnected;
        state.conn = None;
        state.connection_id = None;
        state.session = None;
    }
    shared.emit(HubClientEvent::Closed { error });
    drop(done);
}

/// Attempts new connections on the policy's schedule. `Err(None)`: stopped;
/// `Err(Some(e))`: the policy gave up, `e` is the last reason.
async fn reconnect_loop(
    shared: &Arc<Shared>,
    stop: &async_channel::Receiver<()>,
    mut reason: HubClientError,
) -> Result<Running, Option<HubClientError>> {
    let Some(policy) = shared.options.reconnect.clone() else {
        return Err(Some(reason));
    };
    let began = std::time::Instant::now();
    let mut count = 0u32;
    loop {
        let context = RetryContext {
            previous_retry_count: count,
            elapsed: began.elapsed(),
            retry_reason: reason.clone(),
        };
        let Some(delay) = policy.next_delay(&context) else {
            return Err(Some(reason));
        };
        let stopped = future::or(
            async {
                async_io::Timer::after(delay).await;
                false
            },
            async {
                let _ = stop.recv().await;
                true
            },
        )
        .await;
        if stopped {
            return Err(None);
        }
        match open_or_stop(shared, stop).await {
            Ok(running) => return Ok(running),
            Err(_) if stop.is_closed() => return Err(None),
            Err(e) => {
                tracing::debug!(error = %e, attempt = count + 1, "reconnect attempt failed");
                count += 1;
                reason = e;
            }
        }
    }
}
