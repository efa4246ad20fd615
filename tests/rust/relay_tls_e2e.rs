//! The relay over TLS: a gateway serving wss:// and https:// with a test CA, a listener on
//! wss, an HTTP sender on https and a WebSocket sender on wss.

mod relay_support;

use bytes::Bytes;
use interlink::net::{ClientTls, ServerTls, full};
use interlink::relay::gateway::{GatewayOptions, GatewayServer};
use interlink::relay::{ListenerOptions, RelayListener, RelaySender};
use interlink::ws::Received;
use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::ws::Message;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use relay_support::{body_of, request, run, within};

/// (CA PEM, `localhost` leaf PEM, leaf key PEM).
fn test_pki() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "interlink relay test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

#[test]
fn listener_and_senders_over_tls() {
    run(async {
        let (ca, cert, key) = test_pki();
        let mut options = GatewayOptions::local();
        options.tls = Some(ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap());
        let gw = GatewayServer::start(options).await.unwrap();
        let printed = gw.connection_string();
        assert!(
            printed.endpoint.secure,
            "a TLS gateway prints a TLS endpoint: {printed}"
        );
        // The certificate names `localhost`.
        let mut cs: ConnectionString = printed.to_string().parse().unwrap();
        cs.endpoint.host = "localhost".into();
        assert!(cs.endpoint.secure);
        let tls = ClientTls::webpki()
            .with_extra_ca_pem(ca.as_bytes())
            .unwrap();

        let listener = within(RelayListener::bind(
            &cs,
            "secure",
            ListenerOptions {
                tls: tls.clone(),
                ..relay_support::options()
            },
        ))
        .await
        .expect("a wss listener binds");
        listener.set_http_handler(|req: http::Request<_>| async move {
            http::Response::new(full(format!("over tls: {}", req.uri())))
        });
        let ws_listener = listener.clone();
        smol::spawn(async move {
            while let Some(a) = ws_listener.accept().await {
                if let Some(Received::Message(Message::Text(t))) = a.socket.recv().await {
                    let _ = a.socket.send_text(format!("tls echo: {t}")).await;
                }
            }
        })
        .detach();

        let sender = RelaySender::new(&cs, "secure", tls.clone()).unwrap();
        let resp = within(sender.request(request("GET", "/x?y=1", full(Bytes::new()))))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(body_of(resp).await, "over tls: /secure/x?y=1");

        let socket = within(sender.connect(None, &[]))
            .await
            .expect("wss sender connects");
        socket.send_text("ping").await.unwrap();
        assert_eq!(
            within(socket.recv()).await,
            Some(Received::Message(Message::Text("tls echo: ping".into())))
        );

        // Without the test CA, the TLS handshake fails (no silent fallback to plaintext).
        let untrusted = RelaySender::new(&cs, "secure", ClientTls::webpki()).unwrap();
        assert!(
            within(untrusted.request(request("GET", "/", full(Bytes::new()))))
                .await
                .is_err()
        );
        listener.close().await;
        gw.shutdown().await;
    });
}
