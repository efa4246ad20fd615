//! Client methods the server may call: the registry behind [`HubClient::on`] and the rule
//! that turns handler outputs into the answer of a call that expects a result.
//!
//! [`HubClient::on`]: super::HubClient::on

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use interlink_core::hub::connection::NO_CLIENT_RESULT;
use interlink_core::hub::{CompletionResult, RawValue};

/// What one handler contributes to a server call: nothing, a value, or an error text.
pub type ClientResult = Option<Result<RawValue, String>>;

/// Return types a handler may have: `()`, `RawValue`, `Option<RawValue>`,
/// `Result<RawValue, String>` or `Result<Option<RawValue>, String>`.
pub trait IntoClientResult {
    /// The handler's contribution to the answer.
    fn into_client_result(self) -> ClientResult;
}

impl IntoClientResult for () {
    fn into_client_result(self) -> ClientResult {
        None
    }
}

impl IntoClientResult for RawValue {
    fn into_client_result(self) -> ClientResult {
        Some(Ok(self))
    }
}

impl IntoClientResult for Option<RawValue> {
    fn into_client_result(self) -> ClientResult {
        self.map(Ok)
    }
}

impl IntoClientResult for Result<RawValue, String> {
    fn into_client_result(self) -> ClientResult {
        Some(self)
    }
}

impl IntoClientResult for Result<Option<RawValue>, String> {
    fn into_client_result(self) -> ClientResult {
        self.transpose()
    }
}

/// The output of calling one handler: ready at once, or a future (async handlers).
pub(crate) enum HandlerCall {
    Ready(ClientResult),
    Later(BoxFuture<'static, ClientResult>),
}

pub(crate) type Handler = Arc<dyn Fn(Vec<RawValue>) -> HandlerCall + Send + Sync>;

/// Handlers by lower-cased method name (client method names are case-insensitive, like the
/// JS client's).
#[derive(Default)]
pub(crate) struct Handlers {
    map: RwLock<HashMap<String, Vec<Handler>>>,
}

impl Handlers {
    pub(crate) fn add(&self, method: &str, handler: Handler) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(method.to_lowercase())
            .or_default()
            .push(handler);
    }

    pub(crate) fn remove(&self, method: &str) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&method.to_lowercase());
    }

    pub(crate) fn get(&self, method: &str) -> Vec<Handler> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&method.to_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}

pub(crate) fn sync_handler<F, R>(f: F) -> Handler
where
    F: Fn(Vec<RawValue>) -> R + Send + Sync + 'static,
    R: IntoClientResult,
{
    Arc::new(move |args| HandlerCall::Ready(f(args).into_client_result()))
}

pub(crate) fn async_handler<F, Fut, R>(f: F) -> Handler
where
    F: Fn(Vec<RawValue>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoClientResult,
{
    Arc::new(move |args| {
        let fut = f(args);
        HandlerCall::Later(Box::pin(async move { fut.await.into_client_result() }))
    })
}

/// Calls one handler; a panic becomes an error result instead of ending the connection.
pub(crate) fn call(handler: &Handler, args: Vec<RawValue>) -> HandlerCall {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(args))) {
        Ok(call) => call,
        Err(_) => HandlerCall::Ready(Some(Err("Client handler panicked.".into()))),
    }
}

/// The answer to a server call that expects a result, from every handler's contribution:
/// the first error wins; exactly one value is the result; several values are an error; no
/// value is the JS client's `Client didn't provide a result.`.
pub(crate) fn combine(results: Vec<ClientResult>) -> CompletionResult {
    let mut value = None;
    let mut values = 0;
    for r in results.into_iter().flatten() {
        match r {
            Err(text) => return CompletionResult::Error(text),
            Ok(v) => {
                values += 1;
                value = Some(v);
            }
        }
    }
    match (values, value) {
        (1, Some(v)) => CompletionResult::Value(v),
        (0, _) => CompletionResult::Error(NO_CLIENT_RESULT.into()),
        _ => CompletionResult::Error("Client provided multiple results.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn v(s: &'static str) -> RawValue {
        RawValue::Json(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn combining_results() {
        assert_eq!(
            combine(vec![]),
            CompletionResult::Error(NO_CLIENT_RESULT.into())
        );
        assert_eq!(
            combine(vec![None, Some(Ok(v("1")))]),
            CompletionResult::Value(v("1"))
        );
        assert_eq!(
            combine(vec![Some(Ok(v("1"))), Some(Err("no".into()))]),
            CompletionResult::Error("no".into())
        );
        assert!(matches!(
            combine(vec![Some(Ok(v("1"))), Some(Ok(v("2")))]),
            CompletionResult::Error(e) if e == "Client provided multiple results."
        ));
    }

    #[test]
    fn lookup_is_case_insensitive_and_panics_are_errors() {
        let h = Handlers::default();
        h.add("ReceiveMessage", sync_handler(|_| v("7")));
        h.add("boom", sync_handler(|_| -> () { panic!("handler bug") }));
        assert_eq!(h.get("receivemessage").len(), 1);
        assert_eq!(h.get("RECEIVEMESSAGE").len(), 1);
        let HandlerCall::Ready(r) = call(&h.get("Boom")[0], vec![]) else {
            panic!("sync handlers are ready");
        };
        assert_eq!(r, Some(Err("Client handler panicked.".into())));
        h.remove("receiveMESSAGE");
        assert!(h.get("receivemessage").is_empty());
    }
}
