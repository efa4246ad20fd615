//! The Rust runner of the parity scenarios in `tests/scenarios/` (format in its README):
//! each scenario runs against a fresh gateway with a Rust listener and Rust senders; the
//! outcome goes to `target/scenario-outcomes/rust/<name>.json` for the cross-language check.

mod relay_support;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::net::{self, Body, ClientTls};
use interlink::relay::{AcceptDecision, RelayError, RelaySender};
use interlink::ws::Received;
use interlink_core::ws::Message;
use relay_support::{gateway, listen, run, within};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

fn pattern(n: usize) -> Bytes {
    (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn outcome_dir() -> PathBuf {
    match std::env::var_os("INTERLINK_SCENARIO_OUT") {
        Some(d) => PathBuf::from(d).join("rust"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scenario-outcomes/rust"),
    }
}

/// The body a route or a step describes (`body`, `body_pattern`, or none).
fn body_of(spec: &Value) -> Option<Bytes> {
    if let Some(t) = spec.get("body").and_then(Value::as_str) {
        return Some(Bytes::from(t.to_string()));
    }
    spec.get("body_pattern")
        .and_then(Value::as_u64)
        .map(|n| pattern(n as usize))
}

async fn serve_route(
    routes: Arc<Vec<Value>>,
    hc: String,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path()
        .strip_prefix(&format!("/{hc}"))
        .unwrap_or("")
        .to_string();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let request_body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let Some(route) = routes
        .iter()
        .find(|r| r["method"] == method.as_str() && r["path"] == path.as_str())
    else {
        return http::Response::builder()
            .status(404)
            .body(net::full("no route"))
            .unwrap();
    };
    let status = route["status"].as_u64().unwrap_or(200) as u16;
    let mut builder = http::Response::builder().status(status);
    if let Some(reason) = route.get("reason").and_then(Value::as_str) {
        builder = builder
            .extension(hyper::ext::ReasonPhrase::try_from(reason.as_bytes().to_vec()).unwrap());
    }
    if let Some(headers) = route.get("headers").and_then(Value::as_object) {
        for (n, v) in headers {
            builder = builder.header(n, v.as_str().unwrap_or(""));
        }
    }
    let body = if route.get("echo").and_then(Value::as_bool) == Some(true) {
        request_body
    } else {
        body_of(route).unwrap_or_default()
    };
    builder.body(net::full(body)).unwrap()
}

async fn http_step(
    cs: &interlink_core::relay::connection_string::ConnectionString,
    hc: &str,
    spec: &Value,
    expect: &Value,
) -> Value {
    let sender = RelaySender::new(cs, hc, ClientTls::webpki()).unwrap();
    let mut req = http::Request::builder()
        .method(spec["method"].as_str().unwrap_or("GET"))
        .uri(spec["path"].as_str().unwrap_or("/"));
    if let Some(headers) = spec.get("headers").and_then(Value::as_object) {
        for (n, v) in headers {
            req = req.header(n, v.as_str().unwrap_or(""));
        }
    }
    let req = req
        .body(net::full(body_of(spec).unwrap_or_default()))
        .unwrap();
    let resp = within(sender.request(req))
        .await
        .expect("the relay answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = within(resp.into_body().collect()).await.unwrap().to_bytes();
    let mut ok = expect["status"].as_u64() == Some(status as u64);
    if let Some(h) = expect.get("headers").and_then(Value::as_object) {
        ok &= h
            .iter()
            .all(|(n, v)| headers.get(n).and_then(|x| x.to_str().ok()) == v.as_str());
    }
    if let Some(want) = body_of(expect) {
        ok &= body == want;
    }
    json!({"kind": "http", "status": status, "body_len": body.len(), "ok": ok})
}

async fn websocket_step(
    cs: &interlink_core::relay::connection_string::ConnectionString,
    hc: &str,
    spec: &Value,
    expect: &Value,
) -> Value {
    let sender = RelaySender::new(cs, hc, ClientTls::webpki()).unwrap();
    let path = spec["path"].as_str().unwrap_or("/").trim_start_matches('/');
    let suffix = (!path.is_empty()).then_some(path);
    let socket = match within(sender.connect(suffix, &[])).await {
        Ok(s) => s,
        Err(e) => {
            let status = match &e {
                RelayError::Refused { status, .. } => Some(*status),
                other => other.status(),
            };
            let ok = expect.get("refused").and_then(Value::as_u64) == status.map(u64::from);
            return json!({"kind": "websocket", "refused": status, "received": 0, "ok": ok});
        }
    };
    let texts: Vec<&str> = spec["send"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let binary = spec
        .get("send_binary_pattern")
        .and_then(Value::as_u64)
        .map(|n| pattern(n as usize));
    let mut received_texts = Vec::new();
    let mut received_binary = None;
    let mut received = 0;
    for t in &texts {
        socket.send_text(*t).await.unwrap();
        if let Some(Received::Message(Message::Text(r))) = within(socket.recv()).await {
            received_texts.push(r);
            received += 1;
        }
    }
    if let Some(b) = binary {
        socket.send_binary(b).await.unwrap();
        if let Some(Received::Message(Message::Binary(r))) = within(socket.recv()).await {
            received_binary = Some(r);
            received += 1;
        }
    }
    let _ = socket.close(1000, "").await;
    let want_texts: Vec<&str> = expect["received"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let want_binary = expect
        .get("received_binary_pattern")
        .and_then(Value::as_u64)
        .map(|n| pattern(n as usize));
    let ok = expect.get("refused").is_none()
        && received_texts == want_texts
        && received_binary == want_binary;
    json!({"kind": "websocket", "refused": null, "received": received, "ok": ok})
}

/// Runs one scenario and returns its outcome.
async fn run_scenario(scenario: &Value) -> Value {
    let gw = gateway().await;
    let cs = gw.connection_string();
    let hc = scenario["hybrid_connection"].as_str().unwrap().to_string();
    let listener = match scenario.get("listener") {
        Some(spec) => {
            let l = listen(&gw, &hc).await;
            let routes = Arc::new(spec["routes"].as_array().cloned().unwrap_or_default());
            let hc_for_routes = hc.clone();
            l.set_http_handler(move |req| serve_route(routes.clone(), hc_for_routes.clone(), req));
            let ws = spec
                .get("websocket")
                .cloned()
                .unwrap_or(json!({"mode": "echo"}));
            if ws["mode"] == "reject" {
                let status = ws["status"].as_u64().unwrap_or(403) as u16;
                let description = ws["description"].as_str().unwrap_or("").to_string();
                l.set_accept_filter(move |_| AcceptDecision::Reject {
                    status,
                    description: description.clone(),
                });
            }
            let acceptor = l.clone();
            smol::spawn(async move {
                while let Some(a) = acceptor.accept().await {
                    smol::spawn(async move {
                        while let Some(Received::Message(m)) = a.socket.recv().await {
                            let sent = match m {
                                Message::Text(t) => a.socket.send_text(t).await,
                                Message::Binary(b) => a.socket.send_binary(b).await,
                            };
                            if sent.is_err() {
                                break;
                            }
                        }
                    })
                    .detach();
                }
            })
            .detach();
            Some(l)
        }
        None => None,
    };
    let mut steps = Vec::new();
    for step in scenario["steps"].as_array().unwrap() {
        let expect = &step["expect"];
        let outcome = if let Some(spec) = step.get("http") {
            let target = spec
                .get("hybrid_connection")
                .and_then(Value::as_str)
                .unwrap_or(&hc);
            http_step(&cs, target, spec, expect).await
        } else {
            let spec = &step["websocket"];
            let target = spec
                .get("hybrid_connection")
                .and_then(Value::as_str)
                .unwrap_or(&hc);
            websocket_step(&cs, target, spec, expect).await
        };
        steps.push(outcome);
    }
    if let Some(l) = listener {
        l.close().await;
    }
    gw.shutdown().await;
    json!({"name": scenario["name"], "steps": steps})
}

#[test]
fn every_scenario_holds_in_rust() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "scenario files are missing");
    std::fs::create_dir_all(outcome_dir()).unwrap();
    for file in files {
        let scenario: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let outcome = {
            let scenario = scenario.clone();
            let mut result = None;
            run(async { result = Some(run_scenario(&scenario).await) });
            result.unwrap()
        };
        let name = scenario["name"].as_str().unwrap();
        let text = serde_json::to_string(&outcome).unwrap();
        std::fs::write(
            outcome_dir().join(format!("{name}.json")),
            format!("{text}\n"),
        )
        .unwrap();
        for (i, step) in outcome["steps"].as_array().unwrap().iter().enumerate() {
            assert_eq!(step["ok"], true, "{name} step {i}: {step}");
        }
    }
}
