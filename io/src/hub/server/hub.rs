//! [`Hub`]: the methods a hub serves, by exact name, and the hooks run when a connection
//! starts and ends; [`Args`] and [`UploadStream`] are what a method receives.
//!
//! What it does not do: no reflection or typed binding — a method declares how many
//! arguments and upload streams it takes, and reads them with [`Args::get`] (serde) or
//! [`Args::raw`]. Overloads are not supported (one method per name).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use interlink_core::hub::{HubProtocol, RawValue};
use serde::de::DeserializeOwned;

use super::context::HubContext;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A boxed, sendable stream.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;
/// What a unary method returns: a value (`Some`), nothing (`None`, a void Completion), or
/// an error.
pub type HubResult = Result<Option<RawValue>, HubError>;

/// Why a hub method (or a call it made) failed. What the caller sees is decided by
/// [`HubError::completion_text`], with ASP.NET Core's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// An error meant for the caller, like ASP.NET Core's `HubException`: its text reaches
    /// the client.
    #[error("{0}")]
    Hub(String),
    /// Any other failure of the method: logged; the caller only gets the generic text.
    #[error("{0}")]
    Internal(String),
    /// An argument could not be read as the type the method wanted.
    #[error("argument {index}: {reason}")]
    InvalidArgument { index: usize, reason: String },
    /// A client result (or an upload stream) ended with the client's error text.
    #[error("{0}")]
    Client(String),
    /// The client did not answer a client-result call in time.
    #[error("the client did not answer within {0:?}")]
    ClientResultTimeout(Duration),
    /// The connection is gone (closed, or closing).
    #[error("the connection is closed")]
    Disconnected,
    /// A value could not be encoded or decoded.
    #[error("{0}")]
    Value(String),
}

impl From<interlink_core::hub::ValueError> for HubError {
    fn from(e: interlink_core::hub::ValueError) -> Self {
        HubError::Value(e.to_string())
    }
}

impl HubError {
    /// The Completion error text the caller of `method` receives for this error.
    pub fn completion_text(&self, method: &str) -> String {
        let generic = format!("An unexpected error occurred invoking '{method}' on the server.");
        match self {
            HubError::Hub(text) | HubError::Client(text) => {
                format!("{generic} HubException: {text}")
            }
            HubError::InvalidArgument { .. } => format!(
                "Failed to invoke '{method}' due to an error on the server. \
                 InvalidDataException: Error binding arguments. Make sure that the types of \
                 the provided values match the types of the hub method being invoked."
            ),
            _ => generic,
        }
    }
}

pub(super) type UnaryFn = Arc<dyn Fn(HubContext, Args) -> BoxFuture<HubResult> + Send + Sync>;
pub(super) type StreamFn =
    Arc<dyn Fn(HubContext, Args) -> BoxStream<Result<RawValue, HubError>> + Send + Sync>;
type ConnectedFn = Arc<dyn Fn(HubContext) -> BoxFuture<()> + Send + Sync>;
type DisconnectedFn = Arc<dyn Fn(HubContext, Option<String>) -> BoxFuture<()> + Send + Sync>;

/// How a method is invoked.
#[derive(Clone)]
pub(super) enum Handler {
    /// One result (or none) per call.
    Unary(UnaryFn),
    /// Items, then the end; dropped when the caller cancels.
    Stream(StreamFn),
}

/// One registered method.
#[derive(Clone)]
pub(super) struct Method {
    /// Arguments in the invocation's `arguments` array.
    pub params: usize,
    /// Upload streams in the invocation's `streamIds`.
    pub uploads: usize,
    pub handler: Handler,
}

/// The methods and hooks of one hub. Build it with the `method*` calls, then give it to
/// [`HubService::new`](super::HubService::new).
#[derive(Clone, Default)]
pub struct Hub {
    pub(super) methods: HashMap<String, Method>,
    pub(super) on_connected: Option<ConnectedFn>,
    pub(super) on_disconnected: Option<DisconnectedFn>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.methods.keys().collect();
        names.sort();
        f.debug_struct("Hub").field("methods", &names).finish()
    }
}

impl Hub {
    /// A hub without methods.
    pub fn new() -> Hub {
        Hub::default()
    }

    /// A unary method named `name` (case-sensitive) taking `params` arguments.
    pub fn method<F, Fut>(self, name: &str, params: usize, f: F) -> Hub
    where
        F: Fn(HubContext, Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HubResult> + Send + 'static,
    {
        self.upload_method(name, params, 0, f)
    }

    /// A unary method taking `params` arguments and `uploads` client→server streams
    /// ([`Args::take_upload`], in `streamIds` order).
    pub fn upload_method<F, Fut>(mut self, name: &str, params: usize, uploads: usize, f: F) -> Hub
    where
        F: Fn(HubContext, Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HubResult> + Send + 'static,
    {
        let handler: UnaryFn = Arc::new(move |ctx, args| Box::pin(f(ctx, args)));
        self.methods.insert(
            name.to_owned(),
            Method {
                params,
                uploads,
                handler: Handler::Unary(handler),
            },
        );
        self
    }

    /// A streaming method (invoked with StreamInvocation) taking `params` arguments: its
    /// items go to the caller as StreamItems, then a Completion (with the error, if an item
    /// is an error, which also ends the stream). On CancelInvocation the stream is dropped.
    pub fn stream_method<F, S>(self, name: &str, params: usize, f: F) -> Hub
    where
        F: Fn(HubContext, Args) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<RawValue, HubError>> + Send + 'static,
    {
        self.upload_stream_method(name, params, 0, f)
    }

    /// A streaming method that also takes `uploads` client→server streams.
    pub fn upload_stream_method<F, S>(
        mut self,
        name: &str,
        params: usize,
        uploads: usize,
        f: F,
    ) -> Hub
    where
        F: Fn(HubContext, Args) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<RawValue, HubError>> + Send + 'static,
    {
        let handler: StreamFn = Arc::new(move |ctx, args| Box::pin(f(ctx, args)));
        self.methods.insert(
            name.to_owned(),
            Method {
                params,
                uploads,
                handler: Handler::Stream(handler),
            },
        );
        self
    }

    /// Runs when a connection completed its handshake (before its first invocation runs).
    pub fn on_connected<F, Fut>(mut self, f: F) -> Hub
    where
        F: Fn(HubContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_connected = Some(Arc::new(move |ctx| Box::pin(f(ctx))));
        self
    }

    /// Runs when a connection that had connected ended, with a description of the error
    /// if it did not end cleanly. The connection is already out of every group.
    pub fn on_disconnected<F, Fut>(mut self, f: F) -> Hub
    where
        F: Fn(HubContext, Option<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnected = Some(Arc::new(move |ctx, error| Box::pin(f(ctx, error))));
        self
    }

    /// Names of the registered methods.
    pub fn method_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.methods.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// The arguments of one call: encoded values in the caller's protocol plus its upload
/// streams.
#[derive(Debug)]
pub struct Args {
    protocol: HubProtocol,
    values: Vec<RawValue>,
    uploads: Vec<Option<UploadStream>>,
}

impl Args {
    pub(super) fn new(
        protocol: HubProtocol,
        values: Vec<RawValue>,
        uploads: Vec<UploadStream>,
    ) -> Args {
        Args {
            protocol,
            values,
            uploads: uploads.into_iter().map(Some).collect(),
        }
    }

    /// The caller's protocol (the format of the raw values).
    pub fn protocol(&self) -> HubProtocol {
        self.protocol
    }

    /// Number of (non-stream) arguments.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no (non-stream) arguments.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Argument `index` as it arrived.
    pub fn raw(&self, index: usize) -> Result<&RawValue, HubError> {
        self.values.get(index).ok_or(HubError::InvalidArgument {
            index,
            reason: "missing".into(),
        })
    }

    /// Argument `index` deserialized into `T`.
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T, HubError> {
        self.raw(index)?
            .to_serde()
            .map_err(|e| HubError::InvalidArgument {
                index,
                reason: e.to_string(),
            })
    }

    /// Every argument, as it arrived.
    pub fn into_values(self) -> Vec<RawValue> {
        self.values
    }

    /// Takes upload stream `index` (in `streamIds` order); `None` if absent or taken.
    pub fn take_upload(&mut self, index: usize) -> Option<UploadStream> {
        self.uploads.get_mut(index)?.take()
    }
}

/// One client→server stream of a call: its items in order, then the end (`None`), or one
/// `Err` with the client's error text. Items wait here (unbounded) until read; dropping it
/// discards the rest.
#[derive(Debug)]
pub struct UploadStream {
    rx: Pin<Box<async_channel::Receiver<Result<RawValue, String>>>>,
}

impl UploadStream {
    pub(super) fn new(rx: async_channel::Receiver<Result<RawValue, String>>) -> UploadStream {
        UploadStream { rx: Box::pin(rx) }
    }

    /// The next item deserialized into `T`; `Ok(None)` at the end.
    pub async fn next_as<T: DeserializeOwned>(&mut self) -> Result<Option<T>, HubError> {
        match futures::StreamExt::next(self).await {
            None => Ok(None),
            Some(Ok(raw)) => raw
                .to_serde()
                .map(Some)
                .map_err(|e| HubError::InvalidArgument {
                    index: 0,
                    reason: e.to_string(),
                }),
            Some(Err(e)) => Err(e),
        }
    }
}

impl Stream for UploadStream {
    type Item = Result<RawValue, HubError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(HubError::Client)))
    }
}
