//! Core classifier cost, without the JS boundary: a ~200-byte provider message, a few other
//! shapes, and a 10 MB body.
//!
//! `cargo run --release --example classify_bench [iterations]` — default 200000 calls per shape.

use openclaw_retry_engine::classify::{Classifier, ClassifierConfig};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Instant;

const NOW: i64 = 1_800_000_000_000;

fn per_call(c: &Classifier, input: &Value, iterations: u32) -> f64 {
    black_box(c.classify(input, NOW));
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(c.classify(black_box(input), NOW));
    }
    start.elapsed().as_secs_f64() / f64::from(iterations)
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("iterations must be a positive integer"))
        .unwrap_or(200_000);
    let c = Classifier::new(ClassifierConfig::default()).expect("default classifier");
    let text = "Rate limit reached for gpt-4o-mini in organization org-X on tokens per min (TPM): \
                Limit 50000, Used 47949, Requested 3006. Please try again in 1.146s. Visit \
                https://platform.openai.com/account/rate-limits";
    let shapes = [
        (format!("{}-byte string", text.len()), json!(text)),
        (
            "short Chinese string".into(),
            json!("当前负载过高，请稍后再试"),
        ),
        (
            "HTTP 429 object with headers and JSON body".into(),
            json!({"status": 429, "headers": {"retry-after": "2"},
                   "body": {"error": {"message": text, "type": "tokens", "code": "rate_limit_exceeded"}}}),
        ),
        ("unmatched 200-byte string".into(), json!("x ".repeat(100))),
    ];
    println!("| input | ns per classify |\n|---|---:|");
    for (name, input) in &shapes {
        println!("| {name} | {:.0} |", per_call(&c, input, iterations) * 1e9);
    }
    let filler = "The upstream proxy returned an unexpected page while relaying the request; ";
    let big = format!(
        "{}Rate limit reached. Please try again in 1.5s.",
        filler.repeat(10 * (1 << 20) / filler.len())
    );
    let big = json!({"status": 429, "body": big});
    let ms = per_call(&c, &big, 20) * 1e3;
    println!("| 10 MB body, hint at the end | {:.2} ms |", ms);
}
