//! From a client's Invocation / StreamInvocation to a running method task: the lookup by
//! exact name, the shape and argument-count checks with ASP.NET Core's error texts, upload
//! stream wiring, and the task that reports the result back to the driver.

use futures::StreamExt as _;
use interlink_core::hub::{CompletionResult, Invocation};

use super::driver::{Control, Driver, StreamOut};
use super::hub::{Args, Handler, UploadStream};

/// Why an invocation is refused before any method runs (the Completion error text).
pub(super) fn refusal(
    target: &str,
    streaming: bool,
    handler_streams: Option<bool>,
    given: (usize, usize),
    expected: (usize, usize),
) -> Option<String> {
    let Some(handler_streams) = handler_streams else {
        return Some(format!("Unknown hub method '{target}'"));
    };
    if handler_streams && !streaming {
        return Some(format!(
            "The client attempted to invoke the streaming '{target}' method with a \
             non-streaming invocation."
        ));
    }
    if !handler_streams && streaming {
        return Some(format!(
            "The client attempted to invoke the non-streaming '{target}' method with a \
             streaming invocation."
        ));
    }
    if given.0 != expected.0 {
        return Some(format!(
            "Invocation provides {} argument(s) but target expects {}.",
            given.0, expected.0
        ));
    }
    if given.1 != expected.1 {
        return Some(format!(
            "Client sent {} stream(s), Hub method expects {}.",
            given.1, expected.1
        ));
    }
    None
}

impl Driver {
    /// Starts the method a client invoked, or answers with the reason it cannot run.
    pub(super) fn dispatch(&mut self, inv: Invocation, streaming: bool) {
        let method = self.shared.hub.methods.get(&inv.target).cloned();
        let refused = refusal(
            &inv.target,
            streaming,
            method
                .as_ref()
                .map(|m| matches!(m.handler, Handler::Stream(_))),
            (inv.arguments.len(), inv.stream_ids.len()),
            method.as_ref().map_or((0, 0), |m| (m.params, m.uploads)),
        );
        let (Some(method), None) = (method, refused.clone()) else {
            let text = refused.unwrap_or_default();
            match &inv.invocation_id {
                Some(id) => {
                    let now = self.shared.now();
                    let _ = self.conn.complete(id, CompletionResult::Error(text), now);
                }
                None => tracing::debug!("non-blocking invocation refused: {text}"),
            }
            return;
        };

        let mut uploads = Vec::with_capacity(inv.stream_ids.len());
        for stream_id in &inv.stream_ids {
            let (tx, rx) = async_channel::unbounded();
            self.uploads
                .insert(stream_id.clone(), (inv.invocation_id.clone(), tx));
            uploads.push(UploadStream::new(rx));
        }
        let call = Call {
            handler: method.handler,
            counts: method.uploads == 0,
            name: inv.target,
            id: inv.invocation_id,
            args: Args::new(self.caller.protocol, inv.arguments, uploads),
        };
        if self.hook_running {
            // Calls wait for `on_connected`; their upload items are already collected.
            self.held.push_back(call);
        } else {
            self.start(call);
        }
    }

    /// Runs a checked call as a task of its own.
    pub(super) fn start(&mut self, call: Call) {
        let ctx = self.context();
        let Call {
            handler,
            counts,
            name,
            id,
            args,
        } = call;
        match handler {
            Handler::Unary(f) => {
                let fut = f(ctx, args);
                // Calls with upload streams do not take a permit: they wait for items that
                // only arrive while other calls run.
                let permits = counts.then(|| self.permits.clone());
                let ctl = self.ctl_tx.clone();
                match id {
                    Some(id) => {
                        let key = id.clone();
                        let task = smol::spawn(async move {
                            let _permit = match &permits {
                                Some(p) => Some(p.acquire_arc().await),
                                None => None,
                            };
                            let result = fut.await;
                            let _ = ctl
                                .send(Control::Complete {
                                    id,
                                    method: name,
                                    result,
                                })
                                .await;
                        });
                        self.tasks.insert(key, task);
                    }
                    None => {
                        let key = self.next_background;
                        self.next_background += 1;
                        let task = smol::spawn(async move {
                            let _permit = match &permits {
                                Some(p) => Some(p.acquire_arc().await),
                                None => None,
                            };
                            if let Err(e) = fut.await {
                                tracing::debug!("non-blocking call of '{name}' failed: {e}");
                            }
                            let _ = ctl.send(Control::Done(key)).await;
                        });
                        self.background.insert(key, task);
                    }
                }
            }
            Handler::Stream(f) => {
                // The core guarantees an id on stream invocations.
                let Some(id) = id else {
                    return;
                };
                let mut stream = f(ctx, args);
                let out = self.stream_tx.clone();
                let key = id.clone();
                let task = smol::spawn(async move {
                    let mut error = None;
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(item) => {
                                let sent = out
                                    .send(StreamOut::Item {
                                        id: id.clone(),
                                        item,
                                    })
                                    .await;
                                if sent.is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                error = Some(e);
                                break;
                            }
                        }
                    }
                    let _ = out
                        .send(StreamOut::End {
                            id,
                            method: name,
                            error,
                        })
                        .await;
                });
                self.streams.insert(key, task);
            }
        }
    }
}

impl Call {
    /// Whether it is a streaming call (cancellable).
    pub(super) fn is_stream(&self) -> bool {
        matches!(self.handler, Handler::Stream(_))
    }
}

/// A checked call, ready to run.
pub(super) struct Call {
    handler: Handler,
    /// Whether it takes a parallel-invocation permit.
    counts: bool,
    name: String,
    pub id: Option<String>,
    args: Args,
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusal_texts_match_aspnet_core() {
        assert_eq!(
            refusal("x", false, None, (0, 0), (0, 0)).unwrap(),
            "Unknown hub method 'x'"
        );
        assert_eq!(
            refusal("x", false, Some(true), (0, 0), (0, 0)).unwrap(),
            "The client attempted to invoke the streaming 'x' method with a non-streaming invocation."
        );
        assert_eq!(
            refusal("x", true, Some(false), (0, 0), (0, 0)).unwrap(),
            "The client attempted to invoke the non-streaming 'x' method with a streaming invocation."
        );
        assert_eq!(
            refusal("x", false, Some(false), (2, 0), (1, 0)).unwrap(),
            "Invocation provides 2 argument(s) but target expects 1."
        );
        assert_eq!(
            refusal("x", false, Some(false), (1, 0), (1, 1)).unwrap(),
            "Client sent 0 stream(s), Hub method expects 1."
        );
        assert_eq!(refusal("x", true, Some(true), (1, 0), (1, 0)), None);
    }
}
