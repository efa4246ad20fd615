//! The native baseline of `bench/boundary.mjs`: the same sans-IO rendezvous loop on
//! `interlink_core::relay::gateway::Gateway` without crossing into JavaScript, so the Node
//! figure can be read as "core + boundary".
//!
//! `cargo run --release -p interlink-node --example boundary-native [N]`

use std::time::Instant as Clock;

use interlink_core::relay::gateway::{
    ConnId, Gateway, GatewayConfig, HybridConnectionConfig, Output, UpgradeRequest, WsOut,
};
use interlink_core::relay::sas::{Rights, SasValidator, SharedAccessRule, create_token};
use interlink_core::time::{Instant, UnixTime};

const HOST: &str = "bench.local:9090";
const KEY: &str = "boundary-benchmark-key";

fn upgrade(query: String, headers: Vec<(String, String)>) -> UpgradeRequest {
    UpgradeRequest {
        path: "/$hc/bench".into(),
        query: Some(query),
        headers,
        host: HOST.into(),
        secure: false,
        remote: None,
    }
}

fn setup(with_token: bool) -> (Gateway, Vec<(String, String)>) {
    let config = GatewayConfig {
        hybrid_connections: Some(vec![if with_token {
            HybridConnectionConfig::new("bench")
        } else {
            HybridConnectionConfig::anonymous("bench")
        }]),
        seed: 1,
        ..GatewayConfig::default()
    };
    let rules = vec![SharedAccessRule::new("root", KEY, Rights::ALL)];
    let mut g = Gateway::new(config, Box::new(SasValidator::new(rules)));
    let token = create_token(
        &format!("http://{HOST}/bench"),
        "root",
        KEY,
        UnixTime(4_000_000_000),
    );
    let headers = vec![("ServiceBusAuthorization".to_string(), token)];
    g.handle_upgrade(
        Instant(0),
        ConnId(1),
        upgrade("sb-hc-action=listen".into(), headers.clone()),
    );
    assert!(matches!(g.poll_output(), Some(Output::Upgrade { .. })));
    let connect_headers = if with_token { headers } else { Vec::new() };
    (g, connect_headers)
}

fn run(g: &mut Gateway, headers: &[(String, String)], n: u64, mut conn: u64) -> u64 {
    for i in 0..n {
        let now = Instant(i);
        g.handle_upgrade(
            now,
            ConnId(conn),
            upgrade("sb-hc-action=connect".into(), headers.to_vec()),
        );
        let mut text = None;
        while let Some(o) = g.poll_output() {
            if let Output::Send {
                msg: WsOut::Text(t),
                ..
            } = o
            {
                text = Some(t);
            }
        }
        let text = text.expect("an accept message");
        let at = text.find("sb-hc-id=").expect("an id") + "sb-hc-id=".len();
        let rest = &text[at..];
        let id = &rest[..rest.find(['&', '"']).unwrap_or(rest.len())];
        g.handle_upgrade(
            now,
            ConnId(conn + 1),
            upgrade(format!("sb-hc-action=accept&sb-hc-id={id}"), Vec::new()),
        );
        let mut upgrades = 0;
        while let Some(o) = g.poll_output() {
            if matches!(o, Output::Upgrade { .. }) {
                upgrades += 1;
            }
        }
        assert_eq!(upgrades, 2);
        conn += 2;
    }
    conn
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for (label, with_token) in [("anonymous", false), ("sas-token", true)] {
        let mut rates = Vec::new();
        for _ in 0..5 {
            let (mut g, headers) = setup(with_token);
            let next = run(&mut g, &headers, n.min(10_000), 2);
            let t0 = Clock::now();
            run(&mut g, &headers, n, next);
            rates.push(n as f64 / t0.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "rust {label:<9} {:>9.0} ops/s median  {:>9.0} ops/s best",
            rates[rates.len() / 2],
            rates[rates.len() - 1]
        );
    }
}
