//! TLS server + client with a throwaway rcgen CA, and PEM error cases.

use futures_rustls::rustls;
use http_body_util::BodyExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::ws::{echo_round_trip, ws_echo};
use super::{TestServer, run};
use crate::net::{
    ClientTls, HandshakeOutcome, NetError, PemError, ServerTls, connect, empty, full, request,
    ws_handshake,
};

/// A test PKI: (CA certificate PEM, `localhost` leaf certificate PEM, leaf key PEM).
fn test_pki() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "interlink test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

#[test]
fn https_and_wss_with_an_extra_ca() {
    run(async {
        let (ca, cert, key) = test_pki();
        let server_tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let server = TestServer::start(
            Some(server_tls),
            |req: http::Request<_>, info: crate::net::ConnInfo| async move {
                if req.uri().path() == "/ws" {
                    return ws_echo(req, info).await;
                }
                http::Response::new(full(format!("tls={} path={}", info.tls, req.uri())))
            },
        )
        .await;
        let client_tls = ClientTls::webpki()
            .with_extra_ca_pem(ca.as_bytes())
            .unwrap();

        let target = server.target("https", "localhost", "/secure");
        let req = http::Request::get("/secure").body(empty()).unwrap();
        let resp = request(&target, &client_tls, req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "tls=true path=/secure");

        let target = server.target("wss", "localhost", "/ws");
        let stream = connect(&target, &client_tls).await.unwrap();
        assert!(stream.is_tls());
        match ws_handshake(stream, &target, "AAAAAAAAAAAAAAAAAAAAAA==", &[], &[]).await {
            Ok(HandshakeOutcome::Upgraded {
                mut stream,
                mut leftover,
                ..
            }) => {
                let msg = b"through TLS";
                assert_eq!(echo_round_trip(&mut stream, &mut leftover, msg).await, msg);
            }
            other => panic!("expected an upgrade, got {other:?}"),
        }
        server.stop().await.unwrap();
    });
}

#[test]
fn unknown_issuer_is_a_tls_error() {
    run(async {
        let (_ca, cert, key) = test_pki();
        let server_tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let server = TestServer::start(Some(server_tls), |_req, _info| async {
            http::Response::new(empty())
        })
        .await;
        let target = server.target("https", "localhost", "/");
        match connect(&target, &ClientTls::webpki()).await {
            Err(NetError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))) => {}
            other => panic!("expected an unknown-issuer TLS error, got {other:?}"),
        }
        server.stop().await.unwrap();
    });
}

#[test]
fn pem_errors_are_typed() {
    let (ca, cert, key) = test_pki();
    assert!(matches!(
        ClientTls::webpki().with_extra_ca_pem(b"not a pem"),
        Err(NetError::Pem(PemError::NoCertificate))
    ));
    assert!(matches!(
        ServerTls::from_pem(b"", key.as_bytes()),
        Err(NetError::Pem(PemError::NoCertificate))
    ));
    assert!(matches!(
        ServerTls::from_pem(cert.as_bytes(), cert.as_bytes()),
        Err(NetError::Pem(PemError::NoPrivateKey))
    ));
    // The CA's certificate with the leaf's key: rustls refuses the mismatched pair.
    assert!(matches!(
        ServerTls::from_pem(ca.as_bytes(), key.as_bytes()),
        Err(NetError::Tls(_))
    ));
    let missing = std::path::Path::new("/nonexistent/interlink/cert.pem");
    assert!(matches!(
        ServerTls::from_files(missing, missing),
        Err(NetError::Pem(PemError::File { .. }))
    ));
}
