//! Measures `chat.send` acks per second over one gateway connection against the in-process
//! fake gateway (loopback, no model behind it): sequential sends, then batches in flight.
//!
//! Run: `cargo run --release --example gateway_bench [sends]` (default 5000).

use openclaw_retry_engine::clock::SystemClock;
use openclaw_retry_engine::events::null_sink;
use openclaw_retry_engine::gateway::fake::{FakeGateway, FakeScript};
use openclaw_retry_engine::gateway::{GatewayClient, GatewayConfig};
use openclaw_retry_engine::jitter::Jitter;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sends: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000);
    let gw = FakeGateway::start(FakeScript {
        token: Some("bench-token".into()),
        ..Default::default()
    })
    .await?;
    let cfg = GatewayConfig {
        url: gw.url(),
        token: Some("bench-token".into()),
        ..Default::default()
    };
    let client = GatewayClient::new(cfg, Arc::new(SystemClock), Jitter::default(), null_sink())?;

    let t = Instant::now();
    client.chat_send("bench:warmup", "hi", "warmup").await?;
    println!("connect + handshake + first ack: {:.2} ms", ms(t));

    let t = Instant::now();
    for i in 0..sends {
        client
            .chat_send("bench:seq", "hi", &format!("seq-{i}"))
            .await?;
    }
    report("sequential", sends, t);

    for in_flight in [16usize, 64] {
        let t = Instant::now();
        let mut done = 0;
        while done < sends {
            let batch = in_flight.min(sends - done);
            let futs = (done..done + batch).map(|i| {
                let client = client.clone();
                async move {
                    client
                        .chat_send("bench:par", "hi", &format!("par{in_flight}-{i}"))
                        .await
                }
            });
            for r in futures_util::future::join_all(futs).await {
                r?;
            }
            done += batch;
        }
        report(&format!("{in_flight} in flight"), sends, t);
    }
    let rec = gw.record();
    println!(
        "connections accepted: {}, requests served: {}",
        rec.accepts,
        rec.requests.len()
    );
    client.close().await;
    Ok(())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn report(label: &str, n: usize, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:>14}: {n} acks in {:.1} ms = {:.0} acks/s ({:.1} µs/ack)",
        secs * 1e3,
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
