//! Negotiate variants, keep-alive and timeouts, Close, automatic reconnect and stateful
//! re-attach, against the loopback hub.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use interlink_core::hub::connection::SERVER_TIMEOUT;
use interlink_core::hub::negotiate::NegotiateError;

use super::*;

fn fast_reconnect() -> DefaultReconnectPolicy {
    DefaultReconnectPolicy::from_delays(vec![Duration::ZERO, Duration::from_millis(50)])
}

async fn next_event(events: &async_channel::Receiver<HubClientEvent>) -> HubClientEvent {
    within(Duration::from_secs(10), "a client event", events.recv())
        .await
        .unwrap()
}

#[test]
fn redirects_are_followed_with_the_new_bearer_token() {
    run(async {
        let hub = TestHub::start(HubConfig {
            redirect: true,
            ..HubConfig::default()
        })
        .await;
        let client = builder(&hub, HubProtocol::Json)
            .access_token("user")
            .build();
        client.start().await.unwrap();
        let log = hub.log();
        assert_eq!(
            log[0],
            "negotiate /hub/negotiate?negotiateVersion=1 Bearer user"
        );
        assert_eq!(
            log[1],
            "negotiate /client/negotiate?hub=chat&negotiateVersion=1 Bearer jwt"
        );
        assert!(log[2].starts_with("ws /client/?hub=chat&id="), "{log:?}");
        assert!(log[2].ends_with(" Bearer jwt"), "{log:?}");
        let echoed = client
            .invoke_as::<String, _>("Echo", ("hi",))
            .await
            .unwrap();
        assert_eq!(echoed, "hi");
        client.stop().await;
    });
}

/// A throwaway CA and a `localhost` certificate: (CA PEM, certificate PEM, key PEM).
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

#[test]
fn https_hubs_are_reached_over_wss() {
    run(async {
        let (ca, cert, key) = test_pki();
        let tls = crate::net::ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let hub = TestHub::start(HubConfig {
            tls: Some(tls),
            ..HubConfig::default()
        })
        .await;
        let untrusted = builder(&hub, HubProtocol::Json).build();
        let err = untrusted.start().await.unwrap_err();
        assert!(matches!(err, HubClientError::Transport(_)), "{err:?}");

        let trusted = crate::net::ClientTls::webpki()
            .with_extra_ca_pem(ca.as_bytes())
            .unwrap();
        let client = builder(&hub, HubProtocol::MessagePack).tls(trusted).build();
        client.start().await.unwrap();
        let sum: i64 = client.invoke_as("Add", (40, 2)).await.unwrap();
        assert_eq!(sum, 42);
        client.stop().await;
    });
}

#[test]
fn negotiate_failures_fail_start_and_are_not_retried() {
    run(async {
        let hub = TestHub::start(HubConfig {
            require_token: Some("t1".into()),
            ..HubConfig::default()
        })
        .await;
        let anonymous = builder(&hub, HubProtocol::Json)
            .with_default_reconnect()
            .build();
        let err = anonymous.start().await.unwrap_err();
        assert!(err.is_unauthorized(), "{err:?}");
        assert_eq!(anonymous.state(), HubClientState::Disconnected);
        let counter = Arc::new(Mutex::new(0));
        let calls = counter.clone();
        let with_factory = builder(&hub, HubProtocol::Json)
            .access_token_factory(move || {
                *calls.lock().unwrap() += 1;
                async { "t1".to_string() }
            })
            .build();
        with_factory.start().await.unwrap();
        assert_eq!(*counter.lock().unwrap(), 1);
        with_factory.stop().await;

        hub.refuse_negotiate(503);
        let before = hub.negotiations();
        let refused = builder(&hub, HubProtocol::Json)
            .access_token("t1")
            .with_default_reconnect()
            .build();
        let err = refused.start().await.unwrap_err();
        assert!(
            matches!(&err, HubClientError::NegotiateStatus { status: 503, body } if body == "refused"),
            "{err:?}"
        );
        sleep(300).await;
        assert_eq!(
            hub.negotiations(),
            before + 1,
            "a failed start is not retried"
        );

        let erroring = TestHub::start(HubConfig {
            negotiate_error: Some("nope".into()),
            ..HubConfig::default()
        })
        .await;
        let err = builder(&erroring, HubProtocol::Json)
            .build()
            .start()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HubClientError::Negotiate(NegotiateError::Server(t)) if t == "nope"),
            "{err:?}"
        );
    });
}

#[test]
fn skip_negotiation_and_version_0() {
    run(async {
        let hub = TestHub::start(HubConfig::default()).await;
        let client = builder(&hub, HubProtocol::MessagePack)
            .skip_negotiation(true)
            .build();
        client.start().await.unwrap();
        assert_eq!(client.connection_id(), None);
        assert_eq!(hub.negotiations(), 0);
        assert_eq!(hub.log()[0], "ws /hub -");
        let sum: i64 = client.invoke_as("Add", (20, 22)).await.unwrap();
        assert_eq!(sum, 42);
        client.stop().await;

        // Version 0: no token, the connection id is the `id`.
        let v0 = TestHub::start(HubConfig {
            version0: true,
            ..HubConfig::default()
        })
        .await;
        let client = builder(&v0, HubProtocol::Json).build();
        client.start().await.unwrap();
        let id = client.connection_id().unwrap();
        assert_eq!(v0.log()[1], format!("ws /hub?id={id} -"));
        let seen: String = client.invoke_as("ConnectionId", ()).await.unwrap();
        assert_eq!(seen, id);
        client.stop().await;
    });
}

#[test]
fn keep_alive_holds_and_silence_times_out() {
    run(async {
        let hub = TestHub::start(HubConfig {
            keep_alive: Duration::from_millis(100),
            ..HubConfig::default()
        })
        .await;
        let client = builder(&hub, HubProtocol::Json)
            .keep_alive_interval(Duration::from_millis(100))
            .server_timeout(Duration::from_millis(500))
            .build();
        client.start().await.unwrap();
        sleep(1_500).await;
        assert_eq!(client.state(), HubClientState::Connected);
        let stats = hub.stats(&client.connection_id().unwrap()).await;
        assert!(stats.pings_received >= 5, "{stats:?}");
        assert!(stats.pings_sent >= 5, "{stats:?}");
        client.stop().await;

        // A server that never pings: the client times out with the JS text, and the pending
        // call fails with it.
        let mute = TestHub::start(HubConfig {
            keep_alive: Duration::from_secs(60),
            ..HubConfig::default()
        })
        .await;
        let client = builder(&mute, HubProtocol::MessagePack)
            .server_timeout(Duration::from_millis(300))
            .build();
        let events = client.events();
        client.start().await.unwrap();
        let hang = client.invoke("Hang", vec![]).await.unwrap_err();
        assert!(matches!(hang, HubClientError::ServerTimeout), "{hang:?}");
        match next_event(&events).await {
            HubClientEvent::Closed { error: Some(e) } => {
                assert_eq!(e.to_string(), SERVER_TIMEOUT)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(client.state(), HubClientState::Disconnected);
    });
}

#[test]
fn close_with_allow_reconnect_reconnects_with_a_new_id() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig::default()).await;
            let client = builder(&hub, protocol)
                .automatic_reconnect(fast_reconnect())
                .build();
            let events = client.events();
            let (reconnected_tx, reconnected) = async_channel::unbounded();
            client.on_reconnected(move |id| {
                let _ = reconnected_tx.try_send(id.map(str::to_string));
            });
            client.start().await.unwrap();
            let first = client.connection_id().unwrap();
            let pending = {
                let client = client.clone();
                smol::spawn(async move { client.invoke("Hang", vec![]).await })
            };
            sleep(50).await;
            let args = client.arguments((None::<String>, 1)).unwrap();
            client.send("CloseMe", args).await.unwrap();
            assert!(matches!(
                next_event(&events).await,
                HubClientEvent::Reconnecting { error: None }
            ));
            let HubClientEvent::Reconnected {
                connection_id: Some(second),
            } = next_event(&events).await
            else {
                panic!("expected Reconnected");
            };
            assert_ne!(first, second);
            assert_eq!(client.connection_id(), Some(second.clone()));
            assert_eq!(reconnected.recv().await.unwrap(), Some(second));
            let err = pending.await.unwrap_err();
            assert_eq!(err.to_string(), CONNECTION_CLOSED);
            let sum: i64 = client.invoke_as("Add", (1, 2)).await.unwrap();
            assert_eq!(sum, 3);
            assert_eq!(hub.negotiations(), 2);
            client.stop().await;
        }
    });
}

#[test]
fn close_without_allow_reconnect_closes_with_the_servers_error() {
    run(async {
        let hub = TestHub::start(HubConfig::default()).await;
        let client = builder(&hub, HubProtocol::Json)
            .automatic_reconnect(fast_reconnect())
            .build();
        let events = client.events();
        client.start().await.unwrap();
        client.send_as("CloseMe", ("bye", 0)).await.unwrap();
        match next_event(&events).await {
            HubClientEvent::Closed { error: Some(e) } => {
                assert_eq!(e.to_string(), "Server returned an error on close: bye")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(client.state(), HubClientState::Disconnected);
        assert_eq!(hub.negotiations(), 1);
        // A closed client can start again.
        client.start().await.unwrap();
        client.stop().await;
    });
}

#[test]
fn transport_loss_reconnects_and_the_policy_sees_every_attempt() {
    run(async {
        let hub = TestHub::start(HubConfig::default()).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let policy = move |c: &RetryContext| {
            record
                .lock()
                .unwrap()
                .push((c.previous_retry_count, c.retry_reason.to_string()));
            (c.previous_retry_count < 3).then_some(Duration::from_millis(20))
        };
        let client = builder(&hub, HubProtocol::Json)
            .automatic_reconnect(policy)
            .build();
        let events = client.events();
        client.start().await.unwrap();
        let id = client.connection_id().unwrap();

        // An unclean socket loss (no stateful reconnect): reconnect with a new connection.
        hub.control(&id, ServerCtl::Abort).await;
        assert!(matches!(
            next_event(&events).await,
            HubClientEvent::Reconnecting {
                error: Some(HubClientError::ConnectionClosed(_))
            }
        ));
        assert!(matches!(
            next_event(&events).await,
            HubClientEvent::Reconnected { .. }
        ));

        // Now every attempt fails: the policy is asked after each, then gives up.
        seen.lock().unwrap().clear();
        hub.refuse_negotiate(503);
        let id = client.connection_id().unwrap();
        hub.control(
            &id,
            ServerCtl::Close {
                error: None,
                allow_reconnect: true,
            },
        )
        .await;
        assert!(matches!(
            next_event(&events).await,
            HubClientEvent::Reconnecting { error: None }
        ));
        match next_event(&events).await {
            HubClientEvent::Closed {
                error: Some(HubClientError::NegotiateStatus { status: 503, .. }),
            } => {}
            other => panic!("unexpected {other:?}"),
        }
        let seen = seen.lock().unwrap().clone();
        let counts: Vec<u32> = seen.iter().map(|(n, _)| *n).collect();
        assert_eq!(counts, vec![0, 1, 2, 3]);
        assert!(seen[1].1.contains("503"), "{seen:?}");
    });
}

#[test]
fn stop_ends_a_reconnect_delay() {
    run(async {
        let hub = TestHub::start(HubConfig::default()).await;
        let client = builder(&hub, HubProtocol::Json)
            .automatic_reconnect(DefaultReconnectPolicy::from_delays(vec![
                Duration::from_secs(60),
            ]))
            .build();
        let events = client.events();
        client.start().await.unwrap();
        client
            .send_as("CloseMe", (None::<String>, 1))
            .await
            .unwrap();
        assert!(matches!(
            next_event(&events).await,
            HubClientEvent::Reconnecting { .. }
        ));
        assert_eq!(client.state(), HubClientState::Reconnecting);
        within(Duration::from_secs(3), "stop", client.stop()).await;
        assert!(matches!(
            next_event(&events).await,
            HubClientEvent::Closed { error: None }
        ));
        assert_eq!(client.state(), HubClientState::Disconnected);
    });
}

#[test]
fn stateful_reattach_resumes_the_same_connection_without_loss() {
    run(async {
        for protocol in BOTH {
            let hub = TestHub::start(HubConfig {
                stateful: true,
                ..HubConfig::default()
            })
            .await;
            let client = builder(&hub, protocol)
                .stateful_reconnect(true)
                .automatic_reconnect(fast_reconnect())
                .build();
            let events = client.events();
            client.start().await.unwrap();
            let id = client.connection_id().unwrap();
            assert!(hub.log().contains(&format!("connected {id} stateful=true")));

            let mut items = client.stream("Counter", client.arguments((40, 5)).unwrap());
            let mut got = Vec::new();
            while got.len() < 5 {
                got.push(int(&items.next().await.unwrap().unwrap()));
            }
            hub.control(&id, ServerCtl::Abort).await;
            // Sent while the socket is down or coming back: buffered and replayed.
            for i in 0..10 {
                client.send_as("Notify", (i,)).await.unwrap();
            }
            while let Some(item) = items.next().await {
                got.push(int(&item.unwrap()));
            }
            assert_eq!(
                got,
                (0..40).collect::<Vec<_>>(),
                "nothing lost, nothing twice"
            );
            eventually("all notifications", || {
                hub.log()
                    .iter()
                    .filter(|l| l.starts_with("notify "))
                    .count()
                    == 10
            })
            .await;
            let notes: Vec<String> = hub
                .log()
                .into_iter()
                .filter(|l| l.starts_with("notify "))
                .collect();
            let expected: Vec<String> = (0..10).map(|i| format!("notify {i}")).collect();
            assert_eq!(notes, expected);
            let log = hub.log();
            assert!(log.contains(&format!("lost {id}")), "{log:?}");
            assert!(log.contains(&format!("resumed {id}")), "{log:?}");
            assert_eq!(client.connection_id(), Some(id));
            assert_eq!(hub.negotiations(), 1, "a re-attach does not negotiate");
            assert!(events.try_recv().is_err(), "no reconnect events");
            client.stop().await;
        }
    });
}

#[test]
fn a_failed_reattach_falls_back_to_a_new_connection() {
    run(async {
        let hub = TestHub::start(HubConfig {
            stateful: true,
            ..HubConfig::default()
        })
        .await;
        let client = builder(&hub, HubProtocol::MessagePack)
            .stateful_reconnect(true)
            .automatic_reconnect(fast_reconnect())
            .build();
        let events = client.events();
        client.start().await.unwrap();
        let first = client.connection_id().unwrap();
        hub.control(&first, ServerCtl::Kill).await;
        match next_event(&events).await {
            HubClientEvent::Reconnecting {
                error: Some(HubClientError::ConnectionClosed(text)),
            } => assert!(text.contains("404"), "{text}"),
            other => panic!("unexpected {other:?}"),
        }
        let HubClientEvent::Reconnected {
            connection_id: Some(second),
        } = next_event(&events).await
        else {
            panic!("expected Reconnected");
        };
        assert_ne!(first, second);
        let ws: Vec<String> = hub
            .log()
            .into_iter()
            .filter(|l| l.starts_with("ws "))
            .collect();
        assert_eq!(ws.len(), 3, "open, re-attach (404), new connection: {ws:?}");
        assert_eq!(ws[0], ws[1], "the re-attach reuses the URL and its id");
        assert_eq!(hub.negotiations(), 2);
        let sum: i64 = client.invoke_as("Add", (2, 2)).await.unwrap();
        assert_eq!(sum, 4);
        client.stop().await;
    });
}

#[test]
fn a_full_replay_buffer_holds_sends_back_until_acks() {
    run(async {
        let hub = TestHub::start(HubConfig {
            stateful: true,
            ..HubConfig::default()
        })
        .await;
        let client = builder(&hub, HubProtocol::Json)
            .stateful_reconnect(true)
            .stateful_reconnect_buffer_size(300)
            .build();
        client.start().await.unwrap();
        let text = "x".repeat(100);
        let calls = (0..30).map(|_| {
            let client = client.clone();
            let text = text.clone();
            async move { client.invoke_as::<String, _>("Echo", (text,)).await }
        });
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|t| *t == text)));
        client.stop().await;
    });
}
