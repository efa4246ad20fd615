//! Calling hub methods: [`HubClient::invoke`], [`HubClient::send`], [`HubClient::stream`]
//! (a [`HubStream`] that cancels on drop), upload streams, and serde helpers.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use interlink_core::hub::RawValue;
use interlink_core::hub::invocations::CallKind;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::HubClient;
use super::driver::{Command, Control, Reply, Upload};
use super::error::{CONNECTION_CLOSED, HubClientError};

fn closed() -> HubClientError {
    HubClientError::ConnectionClosed(CONNECTION_CLOSED.into())
}

fn boxed<S>(uploads: Vec<S>) -> Vec<Upload>
where
    S: Stream<Item = RawValue> + Send + 'static,
{
    uploads.into_iter().map(|s| s.boxed()).collect()
}

impl HubClient {
    async fn call(
        &self,
        kind: Option<CallKind>,
        target: &str,
        args: Vec<RawValue>,
        uploads: Vec<Upload>,
    ) -> Result<Option<RawValue>, HubClientError> {
        let handle = self.connected()?;
        let (reply, invoke_rx, send_rx) = match kind {
            None => {
                let (tx, rx) = oneshot::channel();
                (Reply::Send(tx), None, Some(rx))
            }
            Some(_) => {
                let (tx, rx) = oneshot::channel();
                (Reply::Invoke(tx), Some(rx), None)
            }
        };
        let command = Command::Call {
            kind,
            target: target.to_string(),
            args,
            uploads,
            reply,
        };
        handle.commands.send(command).await.map_err(|_| closed())?;
        if let Some(rx) = send_rx {
            return rx.await.unwrap_or_else(|_| Err(closed())).map(|()| None);
        }
        match invoke_rx {
            Some(rx) => rx.await.unwrap_or_else(|_| Err(closed())),
            None => Ok(None),
        }
    }

    /// Calls a hub method and waits for its result: `Some(value)`, or `None` for a void
    /// method. An error Completion is [`HubClientError::Hub`] with the server's text; the
    /// connection ending first fails the call with the connection's error.
    pub async fn invoke(
        &self,
        target: &str,
        args: Vec<RawValue>,
    ) -> Result<Option<RawValue>, HubClientError> {
        self.call(Some(CallKind::SingleResult), target, args, Vec::new())
            .await
    }

    /// [`invoke`](Self::invoke) with upload streams: each stream gets an id from the
    /// connection (listed in the invocation's `streamIds`), its items go out as StreamItems
    /// once the invocation is sent, and its end as a Completion.
    pub async fn invoke_with_streams<S>(
        &self,
        target: &str,
        args: Vec<RawValue>,
        uploads: Vec<S>,
    ) -> Result<Option<RawValue>, HubClientError>
    where
        S: Stream<Item = RawValue> + Send + 'static,
    {
        self.call(Some(CallKind::SingleResult), target, args, boxed(uploads))
            .await
    }

    /// Calls a hub method without asking for a result (no invocation id). Resolves once the
    /// message was handed to the connection, not when the server ran it.
    pub async fn send(&self, target: &str, args: Vec<RawValue>) -> Result<(), HubClientError> {
        self.call(None, target, args, Vec::new()).await.map(|_| ())
    }

    /// [`send`](Self::send) with upload streams.
    pub async fn send_with_streams<S>(
        &self,
        target: &str,
        args: Vec<RawValue>,
        uploads: Vec<S>,
    ) -> Result<(), HubClientError>
    where
        S: Stream<Item = RawValue> + Send + 'static,
    {
        self.call(None, target, args, boxed(uploads))
            .await
            .map(|_| ())
    }

    /// Calls a streaming hub method. The call goes out when the stream is first polled;
    /// items arrive as they come, an error Completion is a final `Err` item, and dropping
    /// the stream early sends CancelInvocation.
    pub fn stream(&self, target: &str, args: Vec<RawValue>) -> HubStream {
        self.stream_inner(target, args, Vec::new())
    }

    /// [`stream`](Self::stream) with upload streams.
    pub fn stream_with_streams<S>(
        &self,
        target: &str,
        args: Vec<RawValue>,
        uploads: Vec<S>,
    ) -> HubStream
    where
        S: Stream<Item = RawValue> + Send + 'static,
    {
        self.stream_inner(target, args, boxed(uploads))
    }

    fn stream_inner(&self, target: &str, args: Vec<RawValue>, uploads: Vec<Upload>) -> HubStream {
        let key = self.handle.shared.next_key.fetch_add(1, Ordering::Relaxed);
        let (items_tx, items) = async_channel::unbounded();
        let handle = match self.connected() {
            Ok(h) => h,
            Err(e) => {
                return HubStream {
                    sending: None,
                    items: Box::pin(items),
                    key,
                    control: None,
                    error: Some(e),
                    done: false,
                };
            }
        };
        let command = Command::Call {
            kind: Some(CallKind::Stream),
            target: target.to_string(),
            args,
            uploads,
            reply: Reply::Stream {
                key,
                items: items_tx,
            },
        };
        let commands = handle.commands.clone();
        HubStream {
            sending: Some(Box::pin(
                async move { commands.send(command).await.is_ok() },
            )),
            items: Box::pin(items),
            key,
            control: Some(handle.control),
            error: None,
            done: false,
        }
    }

    /// Encodes `value` in this client's protocol (serde).
    pub fn value<T: Serialize + ?Sized>(&self, value: &T) -> Result<RawValue, HubClientError> {
        Ok(RawValue::from_serde(self.protocol(), value)?)
    }

    /// Encodes a tuple, array or `Vec` as call arguments, one per element (`()` = none; any
    /// other value is one argument).
    pub fn arguments<A: Serialize>(&self, args: A) -> Result<Vec<RawValue>, HubClientError> {
        let value =
            serde_json::to_value(args).map_err(|e| HubClientError::Encode(e.to_string()))?;
        match value {
            serde_json::Value::Null => Ok(Vec::new()),
            serde_json::Value::Array(items) => items.iter().map(|v| self.value(v)).collect(),
            other => Ok(vec![self.value(&other)?]),
        }
    }

    /// [`invoke`](Self::invoke) with serde: `client.invoke_as::<i64, _>("Add", (1, 2))`. A
    /// void result reads as JSON `null` (so `()` and `Option<T>` work).
    pub async fn invoke_as<T: DeserializeOwned, A: Serialize>(
        &self,
        target: &str,
        args: A,
    ) -> Result<T, HubClientError> {
        let args = self.arguments(args)?;
        match self.invoke(target, args).await? {
            Some(v) => Ok(v.to_serde()?),
            None => serde_json::from_value(serde_json::Value::Null)
                .map_err(|e| HubClientError::Encode(e.to_string())),
        }
    }

    /// [`send`](Self::send) with serde arguments.
    pub async fn send_as<A: Serialize>(&self, target: &str, args: A) -> Result<(), HubClientError> {
        let args = self.arguments(args)?;
        self.send(target, args).await
    }
}

/// The items of a streaming call, from [`HubClient::stream`]. Ends after the server's
/// Completion (an error Completion is a last `Err` item). Dropping it before the end cancels
/// the call on the server.
pub struct HubStream {
    sending: Option<BoxFuture<'static, bool>>,
    items: Pin<Box<async_channel::Receiver<Result<RawValue, HubClientError>>>>,
    key: u64,
    control: Option<async_channel::Sender<Control>>,
    error: Option<HubClientError>,
    done: bool,
}

impl std::fmt::Debug for HubStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubStream")
            .field("started", &self.sending.is_none())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Stream for HubStream {
    type Item = Result<RawValue, HubClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            this.done = true;
            return Poll::Ready(Some(Err(e)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(sending) = &mut this.sending {
            let sent = std::task::ready!(sending.as_mut().poll(cx));
            this.sending = None;
            if !sent {
                this.done = true;
                return Poll::Ready(Some(Err(closed())));
            }
        }
        let item = std::task::ready!(this.items.as_mut().poll_next(cx));
        if item.is_none() {
            this.done = true;
        }
        Poll::Ready(item)
    }
}

impl Drop for HubStream {
    fn drop(&mut self) {
        if self.done || self.error.is_some() {
            return;
        }
        if let Some(control) = &self.control {
            // Not yet sent: nothing to cancel. In flight: the driver sees the closed channel.
            if self.sending.is_none() {
                let _ = control.try_send(Control::CancelStream(self.key));
            }
        }
    }
}
