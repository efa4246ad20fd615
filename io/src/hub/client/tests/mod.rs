//! Loopback tests of the hub client against the in-process [`server::TestHub`] on
//! `127.0.0.1:0`. Every wait is bounded; reaching a bound is a failure, never a measurement.
//!
//! This module: calls (invoke, send, streams and cancel, uploads, server→client calls with
//! results). `lifecycle`: negotiate variants, keep-alive, timeouts, Close, reconnects and
//! stateful re-attach.

mod lifecycle;
mod server;
mod server_conn;

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use futures_lite::future;
use interlink_core::hub::{HubProtocol, RawValue};

use super::*;
use server::{HubConfig, ServerCtl, TestHub};

const BOTH: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

/// Upper bound of one test.
const LIMIT: Duration = Duration::from_secs(30);

fn run<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(future::or(fut, async {
        async_io::Timer::after(LIMIT).await;
        panic!("test did not finish within {LIMIT:?}")
    }))
}

/// `fut`, or a panic naming `what` after `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    future::or(fut, async {
        async_io::Timer::after(limit).await;
        panic!("timed out waiting for {what}")
    })
    .await
}

async fn sleep(ms: u64) {
    async_io::Timer::after(Duration::from_millis(ms)).await;
}

/// Polls `cond` every 10 ms for at most 5 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(Duration::from_secs(5), what, async {
        while !cond() {
            sleep(10).await;
        }
    })
    .await
}

fn value(protocol: HubProtocol, v: i64) -> RawValue {
    RawValue::from_serde(protocol, &v).unwrap()
}

fn int(v: &RawValue) -> i64 {
    v.to_serde().unwrap()
}

fn builder(hub: &TestHub, protocol: HubProtocol) -> HubClientBuilder {
    HubClientBuilder::new(hub.url()).protocol(protocol)
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<HubClient>();
    send_sync::<HubClientError>();
    send::<HubStream>();
}

#[test]
fn dropping_the_last_handle_stops_the_client() {
    run(async {
        let hub = TestHub::start(HubConfig::default()).await;
        let client = builder(&hub, HubProtocol::Json).build();
        client.start().await.unwrap();
        let id = client.connection_id().unwrap();
        drop(client);
        eventually("the server to see the Close", || {
            hub.log()
                .iter()
                .any(|l| l.starts_with(&format!("closed {id} PeerClosed")))
        })
        .await;
    });
}

#[test]
fn invoke_send_and_hub_errors() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig::default()).await;
            let client = builder(&hub, protocol).build();
            assert!(matches!(
                client.invoke("Echo", vec![]).await,
                Err(HubClientError::NotConnected)
            ));
            let (notified_tx, notified) = async_channel::unbounded();
            client.on("notified", move |args: Vec<RawValue>| {
                let _ = notified_tx.try_send(int(&args[0]));
            });
            client.start().await.unwrap();
            assert_eq!(client.state(), HubClientState::Connected);
            assert!(client.connection_id().is_some());
            assert!(matches!(
                client.start().await,
                Err(HubClientError::AlreadyStarted)
            ));

            let echoed = client.invoke("Echo", vec![value(protocol, 42)]).await;
            assert_eq!(echoed.unwrap().map(|v| int(&v)), Some(42));
            let sum: i64 = client.invoke_as("Add", (2, 3)).await.unwrap();
            assert_eq!(sum, 5);
            assert_eq!(client.invoke("Void", vec![]).await.unwrap(), None);
            let () = client.invoke_as("Void", ()).await.unwrap();
            let err = client.invoke_as::<(), _>("Fail", ("nope",)).await;
            assert!(
                matches!(&err, Err(HubClientError::Hub(t)) if t == "nope"),
                "{err:?}"
            );
            let err = client.invoke("Missing", vec![]).await.unwrap_err();
            assert_eq!(err.to_string(), "Unknown hub method 'Missing'");

            // A non-blocking send; the server calls back `Notified` (case-insensitive).
            client.send_as("Notify", (7,)).await.unwrap();
            let got = within(Duration::from_secs(5), "Notified", notified.recv()).await;
            assert_eq!(got.unwrap(), 7);
            assert!(hub.log().contains(&"notify 7".to_string()));

            let (closed_tx, closed) = async_channel::unbounded();
            client.on_close(move |e| {
                let _ = closed_tx.try_send(e.map(|e| e.to_string()));
            });
            client.stop().await;
            assert_eq!(client.state(), HubClientState::Disconnected);
            assert_eq!(client.connection_id(), None);
            assert_eq!(closed.recv().await.unwrap(), None);
            assert!(matches!(
                client.send("Notify", vec![]).await,
                Err(HubClientError::NotConnected)
            ));
        }
    });
}

#[test]
fn streams_deliver_items_and_dropping_cancels() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig::default()).await;
            let client = builder(&hub, protocol).build();
            client.start().await.unwrap();
            let args = client.arguments((3, 5)).unwrap();
            let items: Vec<i64> = client
                .stream("Counter", args)
                .map(|r| int(&r.unwrap()))
                .collect()
                .await;
            assert_eq!(items, vec![0, 1, 2]);

            // Take three of a long stream, then drop it: CancelInvocation goes out.
            let mut long = client.stream("Counter", client.arguments((100_000, 5)).unwrap());
            for expected in 0..3 {
                assert_eq!(int(&long.next().await.unwrap().unwrap()), expected);
            }
            drop(long);
            eventually("the server's cancel", || {
                hub.log().iter().any(|l| l.starts_with("cancel "))
            })
            .await;
            // The connection goes on.
            let sum: i64 = client.invoke_as("Add", (1, 1)).await.unwrap();
            assert_eq!(sum, 2);

            // A stream from a disconnected client is one error.
            client.stop().await;
            let mut s = client.stream("Counter", vec![]);
            assert!(matches!(
                s.next().await,
                Some(Err(HubClientError::NotConnected))
            ));
            assert!(s.next().await.is_none());
        }
    });
}

#[test]
fn upload_streams_end_with_completion() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig::default()).await;
            let client = builder(&hub, protocol).build();
            client.start().await.unwrap();
            let a = futures::stream::iter([1, 2, 3].map(|v| value(protocol, v)));
            let slow =
                futures::stream::iter([10, 20].map(|v| value(protocol, v))).then(|v| async move {
                    sleep(10).await;
                    v
                });
            let uploads = vec![a.boxed(), slow.boxed()];
            let total = client.invoke_with_streams("Sum", vec![], uploads).await;
            assert_eq!(total.unwrap().map(|v| int(&v)), Some(36));

            // send_with_streams: the server still sums (and logs) it.
            let one = futures::stream::iter([value(protocol, 5)]);
            client
                .send_with_streams("Sum", vec![], vec![one])
                .await
                .unwrap();
            eventually("the uploaded sum", || {
                hub.log().contains(&"sum 5".to_string())
            })
            .await;
            client.stop().await;
        }
    });
}

#[test]
fn server_calls_get_handler_results() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig::default()).await;
            let client = builder(&hub, protocol).build();
            client.on("Double", move |args: Vec<RawValue>| {
                RawValue::from_serde(protocol, &(int(&args[0]) * 2)).map_err(|e| e.to_string())
            });
            client.on("Refuse", |_args: Vec<RawValue>| {
                Err::<RawValue, String>("refused".into())
            });
            client.on_async("Later", |args: Vec<RawValue>| async move {
                sleep(20).await;
                Some(args[0].clone())
            });
            client.start().await.unwrap();
            let ask = |method: &'static str, x: i64| {
                let client = client.clone();
                async move {
                    let args = client.arguments((method, x)).unwrap();
                    client.invoke("AskClient", args).await
                }
            };
            assert_eq!(ask("double", 21).await.unwrap().map(|v| int(&v)), Some(42));
            assert_eq!(ask("LATER", 5).await.unwrap().map(|v| int(&v)), Some(5));
            let refused = ask("Refuse", 1).await.unwrap_err();
            assert_eq!(refused.to_string(), "refused");
            let missing = ask("Nobody", 1).await.unwrap_err();
            assert_eq!(missing.to_string(), "Client didn't provide a result.");

            // Straight from the server's side, and after `off`.
            let id = client.connection_id().unwrap();
            let (tx, rx) = futures::channel::oneshot::channel();
            let args = vec![value(protocol, 4)];
            let invoke = ServerCtl::Invoke {
                method: "DOUBLE".into(),
                args: args.clone(),
                reply: Some(tx),
            };
            hub.control(&id, invoke).await;
            match rx.await.unwrap() {
                interlink_core::hub::CompletionResult::Value(v) => assert_eq!(int(&v), 8),
                other => panic!("unexpected {other:?}"),
            }
            client.off("double");
            assert!(ask("Double", 1).await.is_err());
            client.stop().await;
        }
    });
}
