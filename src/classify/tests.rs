//! Classifier tests: extra cases per reason and per hint format (the corpus files are in
//! `corpus_tests.rs`).

use super::*;
use serde_json::json;

const NOW: i64 = 1_800_000_000_000;

fn classifier() -> Classifier {
    Classifier::new(ClassifierConfig::default()).unwrap()
}

fn reason(v: Value) -> Option<Reason> {
    classifier().classify(&v, NOW).reason
}

#[test]
fn extra_cases_per_reason() {
    let cases: Vec<(Value, Reason)> = vec![
        // Anthropic SDK error message string.
        (
            json!("429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed the rate limit for your organization\"}}"),
            Reason::RateLimit,
        ),
        (json!("Error code: 503"), Reason::ServerError),
        (json!("Error code: 401 - invalid"), Reason::Auth),
        // OpenAI node SDK error object.
        (
            json!({"name": "RateLimitError", "status": 429, "message": "429 Rate limit reached for requests",
                   "error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"},
                   "headers": {"x-ratelimit-reset-requests": "20ms"}}),
            Reason::RateLimit,
        ),
        // Mistral / Groq.
        (json!({"status": 429, "body": {"message": "Requests rate limit exceeded"}}), Reason::RateLimit),
        (
            json!({"status": 429, "body": {"error": {"message": "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Used 5000, Requested 2000. Please try again in 10s.", "type": "tokens", "code": "rate_limit_exceeded"}}}),
            Reason::RateLimit,
        ),
        (
            json!({"status": 429, "body": {"error": {"message": "Rate limit reached for model `x` on requests per day (RPD): Limit 1000, Used 1000. Please try again in 1m26.4s.", "code": "rate_limit_exceeded"}}}),
            Reason::Quota,
        ),
        (json!({"status": 402}), Reason::Billing),
        (json!({"status": 401, "body": {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}}), Reason::Auth),
        (json!({"status": 400, "body": {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}}), Reason::Auth),
        (json!({"status": 403, "body": {"type": "error", "error": {"type": "permission_error", "message": "Your API key does not have permission to use the specified resource."}}}), Reason::AuthPermanent),
        (json!("This key has been revoked."), Reason::AuthPermanent),
        // A bare 403 "Forbidden" is `auth` (as OpenClaw reads it); a 403 saying why is refined.
        (json!({"status": 403, "body": "Forbidden"}), Reason::Auth),
        (json!({"status": 503, "body": {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}}), Reason::Overloaded),
        (json!({"status": 500, "body": {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}}), Reason::ServerError),
        (json!({"status": 504, "body": "Gateway Timeout"}), Reason::ServerError),
        (json!({"name": "APIConnectionTimeoutError", "message": "Request timed out."}), Reason::Timeout),
        (json!({"message": "connect ETIMEDOUT 1.2.3.4:443", "code": "ETIMEDOUT"}), Reason::Timeout),
        (json!({"name": "TypeError", "message": "fetch failed", "cause": {"code": "ENOTFOUND", "message": "getaddrinfo ENOTFOUND api.x"}}), Reason::Network),
        (json!("Error: socket hang up"), Reason::Network),
        (json!("getaddrinfo EAI_AGAIN api.openai.com"), Reason::Network),
        (json!({"status": 422, "body": {"detail": [{"msg": "field required"}]}}), Reason::Format),
        (json!({"status": 400, "body": {"type": "error", "error": {"type": "invalid_request_error", "message": "messages: roles must alternate"}}}), Reason::Format),
        (json!({"status": 400, "body": {"type": "error", "error": {"type": "invalid_request_error", "message": "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000"}}}), Reason::ContextOverflow),
        (json!({"status": 404, "body": {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-9"}}}), Reason::ModelNotFound),
        (json!({"status": 404, "body": {"error": {"code": 404, "message": "models/gemini-9 is not found for API version v1beta", "status": "NOT_FOUND"}}}), Reason::ModelNotFound),
        (json!("Claude AI usage limit reached|1800007200"), Reason::Quota),
        (json!({"status": 429, "body": {"error": {"code": 429, "message": "Quota exceeded for quota metric 'Generate Content API requests per day'", "status": "RESOURCE_EXHAUSTED", "details": [{"violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}}), Reason::Quota),
        (json!("The server had an error while processing your request. Sorry about that!"), Reason::ServerError),
        (json!("Your account org-x is not active, please check your billing details."), Reason::Billing),
        (json!("ModelNotReadyException: Model is not ready yet"), Reason::Overloaded),
        (json!("OAuth token has expired. Please obtain a new token."), Reason::Auth),
        (json!("Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"), Reason::Overloaded),
        (json!("RateLimitError: Rate limit exceeded: free-models-per-day."), Reason::Quota),
        (json!("The operation was aborted due to timeout"), Reason::Timeout),
        (json!("upstream connect error or disconnect/reset before headers"), Reason::ServerError),
        (json!("ServiceUnavailableException: Bedrock is unable to process your request."), Reason::ServerError),
        (json!("something strange happened"), Reason::Unknown),
        (json!({"status": 418}), Reason::Unknown),
        (json!({"name": "Error", "message": "boom"}), Reason::Unknown),
    ];
    for (input, want) in cases {
        assert_eq!(reason(input.clone()), Some(want), "{input}");
    }
}

#[test]
fn not_failures() {
    for input in [
        json!(null),
        json!(""),
        json!({"status": 200, "body": {"choices": []}}),
        json!({"kind": "agent_end", "event": {"success": true, "messages": [
            {"role": "assistant", "stopReason": "stop", "content": "rate limit 429"}]}}),
        json!({"kind": "chat_text", "text": "Rate limits: OpenAI returns HTTP 429 when you exceed them."}),
    ] {
        let c = classifier().classify(&input, NOW);
        assert_eq!(c.reason, None, "{input}");
        assert!(!c.retryable);
        assert!(c.message.is_empty());
    }
}

#[test]
fn agent_end_provider_error_in_last_assistant_message() {
    let ev = json!({"kind": "agent_end", "event": {"runId": "r1", "success": true, "durationMs": 12,
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "stopReason": "error", "errorMessage": "429 status code (no body)",
         "errorBody": {"status": 429, "headers": {"Retry-After": "7"}}}
    ]}});
    let c = classifier().classify(&ev, NOW);
    assert_eq!(c.reason, Some(Reason::RateLimit));
    assert_eq!(c.status, Some(429));
    assert_eq!(c.retry_after_ms, Some(7_000));
    assert_eq!(c.reset_at_ms, Some(NOW + 7_000));
    let raw = json!({"success": false, "messages": [], "error": "Error: read ECONNRESET"});
    assert_eq!(reason(raw), Some(Reason::Network));
    let earlier_error = json!({"success": true, "messages": [
        {"role": "assistant", "stopReason": "error", "errorMessage": "Overloaded"},
        {"role": "assistant", "stopReason": "stop"}]});
    assert_eq!(reason(earlier_error), None);
}

fn hint(input: Value, cfg: ClassifierConfig) -> (Option<i64>, Option<i64>) {
    let c = Classifier::new(cfg).unwrap().classify(&input, NOW);
    (c.retry_after_ms, c.reset_at_ms)
}

#[test]
fn hint_formats_and_precedence() {
    let d = ClassifierConfig::default;
    let h429 = |headers: Value| json!({"status": 429, "headers": headers, "body": "Please try again in 9s"});
    assert_eq!(
        hint(
            h429(json!({"retry-after-ms": "250", "retry-after": "3"})),
            d()
        ),
        (Some(250), Some(NOW + 250))
    );
    assert_eq!(
        hint(h429(json!({"Retry-After": "1.5"})), d()).0,
        Some(1_500)
    );
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis((NOW + 60_000) as u64),
    );
    assert_eq!(
        hint(h429(json!({"retry-after": date})), d()),
        (Some(60_000), Some(NOW + 60_000))
    );
    assert_eq!(
        hint(h429(json!({"x-ratelimit-reset-requests": "1h2m3.5s"})), d()).0,
        Some(3_723_500)
    );
    assert_eq!(
        hint(
            h429(
                json!({"anthropic-ratelimit-requests-reset": "2027-01-15T08:00:30Z",
                         "anthropic-ratelimit-requests-remaining": "0"})
            ),
            d()
        )
        .1,
        Some(1_800_000_030_000)
    );
    // An HTTP-date in the past: reset as given, no negative wait.
    assert_eq!(
        hint(
            h429(json!({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})),
            d()
        ),
        (Some(0), Some(1_445_412_480_000))
    );
    // Text hint when no header.
    assert_eq!(hint(h429(json!({})), d()).0, Some(9_000));
    // Rate limit: retry-after beats the absolute Anthropic reset.
    assert_eq!(
        hint(
            h429(json!({"retry-after": "5",
                         "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:30Z"})),
            d()
        )
        .0,
        Some(5_000)
    );
    // Gemini RetryInfo in a string body.
    let gemini = json!({"status": 429, "body": "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"x\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"19s\"}]}}"});
    assert_eq!(hint(gemini, d()).0, Some(19_000));
    // Quota: budget window fallback, and explicit epoch in text.
    let budget = ClassifierConfig {
        budget_window_ms: Some(5 * 3_600_000),
        ..Default::default()
    };
    assert_eq!(
        hint(json!("Weekly limit reached."), budget.clone()),
        (Some(18_000_000), Some(NOW + 18_000_000))
    );
    assert_eq!(hint(json!("Weekly limit reached."), d()), (None, None));
    assert_eq!(
        hint(
            json!("Claude AI usage limit reached|1800007200"),
            budget.clone()
        ),
        (Some(7_200_000), Some(1_800_007_200_000))
    );
    // Budget window is not used for rate limits.
    assert_eq!(hint(json!("rate limit exceeded"), budget), (None, None));
}

#[test]
fn surfaced_errors_positive() {
    let c = classifier();
    for t in [
        "⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.",
        "API rate limit reached. Please try again later.",
        "Error: 429 Too Many Requests",
        "❌ Error: overloaded_error",
        "⚠️ Agent failed: Your credit balance is too low to access the Anthropic API.",
        "LLM request failed.\n\nRequest timed out before a response was generated. Please try again, or increase `agents.defaults.timeoutSeconds` in your config.",
        "Error 503: Service Unavailable",
        // Copy read off a real OpenClaw 2026.9.6 gateway.
        "⚠️ The model request was rate-limited. Please try again in a few minutes.",
        "⚠️ fake (fake-model) returned a billing error — check your provider account.",
        "⚠️ You exceeded your current quota: daily usage limit reached.",
    ] {
        assert!(c.is_surfaced_error(t), "{t}");
        let got = c.classify(&json!({"kind": "chat_text", "text": t}), NOW);
        assert!(got.reason.is_some_and(|r| r != Reason::Unknown), "{t}");
    }
}

#[test]
fn surfaced_errors_negative() {
    let c = classifier();
    let long = format!(
        "Error: rate limit exceeded. {}",
        "Details follow. ".repeat(40)
    );
    for t in [
        "Here is how to handle API rate limits: back off when you get HTTP 429 and read the Retry-After header.",
        "The budget for the 429 project is $4,290; the team has used 429 tokens.",
        "Rate limit exceeded errors happen when you send too many requests.",
        "I hit a rate limit earlier, so I waited a bit and everything worked.",
        "HTTP 429 means Too Many Requests.",
        "Error: something went wrong.",
        "❌ Failed to parse your CSV: line 4290 has 429 columns.",
        "Error handling with timeouts and retries is tricky.",
        "Overloaded servers usually return 529.",
        "Error: why am I rate limited?",
        "```\nError: 429 Too Many Requests\n```",
        "> Error: 429 Too Many Requests",
        "Please try again in 5 minutes, I am still thinking.",
        "Your quota for today is fine; 429 requests left.",
        "Tip: Error: 429 Too Many Requests means you should back off.",
        "Sure — the ECONNRESET you saw is a network issue; here is a fix.",
        long.as_str(),
        "",
    ] {
        assert!(!c.is_surfaced_error(t), "{t}");
        assert_eq!(
            c.classify(&json!({"kind": "chat_text", "text": t}), NOW).reason,
            None,
            "{t}"
        );
    }
}

#[test]
fn custom_patterns_win_and_bad_ones_are_rejected() {
    let cfg = ClassifierConfig {
        custom_patterns: vec![CustomPattern {
            pattern: r"acme-throttle-\d+".into(),
            reason: Reason::Quota,
        }],
        budget_window_ms: None,
    };
    let c = Classifier::new(cfg).unwrap();
    assert_eq!(
        c.classify(&json!("ACME-THROTTLE-7 rate limit exceeded"), NOW)
            .reason,
        Some(Reason::Quota)
    );
    let err = Classifier::new(ClassifierConfig {
        custom_patterns: vec![
            CustomPattern {
                pattern: "ok".into(),
                reason: Reason::Auth,
            },
            CustomPattern {
                pattern: "(".into(),
                reason: Reason::Auth,
            },
        ],
        budget_window_ms: None,
    })
    .unwrap_err();
    assert_eq!(err.code(), "E_INVALID_OPTION");
    assert!(err.to_string().contains("`patterns[1].pattern`"), "{err}");
    assert!(Classifier::new(ClassifierConfig {
        budget_window_ms: Some(-1),
        ..Default::default()
    })
    .is_err());
}

#[test]
fn message_is_short_and_secret_free() {
    let c = classifier().classify(
        &json!({"status": 401, "headers": {"authorization": "Bearer abc.def"},
                "body": {"error": {"message": "Incorrect API key provided: sk-proj-SECRET123. Bearer tok.en.x", "code": "invalid_api_key"}}}),
        NOW,
    );
    assert_eq!(c.reason, Some(Reason::Auth));
    assert!(
        !c.message.contains("SECRET123") && !c.message.contains("tok.en"),
        "{}",
        c.message
    );
    assert!(c.message.starts_with("HTTP 401: "));
    let serialised = serde_json::to_value(&c).unwrap();
    assert_eq!(serialised["reason"], "auth");
    assert_eq!(serialised["status"], 401);
    assert!(serialised.get("retryAfterMs").is_none());
}

#[test]
fn ten_megabyte_inputs_classify() {
    let filler = "lorem ipsum ".repeat(900_000);
    let c = classifier();
    let s = format!("Error: read ECONNRESET {filler}");
    assert_eq!(c.classify(&json!(s), NOW).reason, Some(Reason::Network));
    let tail = format!("{filler} Please try again in 2s. rate limit exceeded");
    let got = c.classify(&json!({"status": 429, "body": tail}), NOW);
    assert_eq!(got.reason, Some(Reason::RateLimit));
    assert_eq!(got.retry_after_ms, Some(2_000));
    assert!(got.message.chars().count() <= 500);
    let json_body = format!("{{\"error\":{{\"message\":\"{filler}\"}}}}");
    let got = c.classify(&json!({"status": 503, "body": json_body}), NOW);
    assert_eq!(got.reason, Some(Reason::ServerError));
    assert!(!c.is_surfaced_error(&s));
}

#[test]
fn tricky_cases() {
    // Word-bounded timeouts: an option name is not a timeout.
    assert_eq!(
        reason(json!({"status": 400, "body": "invalid parameter: timeoutMs must be a number"})),
        Some(Reason::Format)
    );
    assert_eq!(
        reason(json!("sometime outside the window")),
        Some(Reason::Unknown)
    );
    // Anthropic unified limit rejected without a telling message: quota, reset from header.
    let c = classifier().classify(
        &json!({"status": 429, "headers": {"anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": "1800010000"}, "body": "{}"}),
        NOW,
    );
    assert_eq!(c.reason, Some(Reason::Quota));
    assert_eq!(c.reset_at_ms, Some(1_800_010_000_000));
    assert_eq!(c.retry_after_ms, Some(10_000_000));
    // agent_end without `success` but with an error.
    assert_eq!(
        reason(json!({"kind": "agent_end", "event": {"messages": [], "error": "socket hang up"}})),
        Some(Reason::Network)
    );
    // A bare number is a status.
    assert_eq!(reason(json!(429)), Some(Reason::RateLimit));
    // OpenAI insufficient_quota as an SDK message string, no code: billing.
    assert_eq!(
        reason(json!(
            "429 You exceeded your current quota, please check your plan and billing details."
        )),
        Some(Reason::Billing)
    );
    // Streaming 200 with an error event body.
    assert_eq!(
        reason(
            json!({"status": 200, "body": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}})
        ),
        Some(Reason::Overloaded)
    );
}

#[test]
fn hints_count_from_when_the_provider_answered() {
    let event = |timestamp: Value| {
        json!({"kind": "agent_end", "event": {"success": true, "messages": [
            {"role": "assistant", "stopReason": "error", "timestamp": timestamp, "errorCode": "429",
             "errorMessage": "429 Rate limit reached for requests per min; Retry-After: 30 seconds"}]}})
    };
    let c = classifier().classify(&event(json!(NOW - 10_000)), NOW);
    assert_eq!(c.reason, Some(Reason::RateLimit));
    assert_eq!(c.reset_at_ms, Some(NOW + 20_000));
    assert_eq!(c.retry_after_ms, Some(20_000));
    assert!(
        c.relative_hint,
        "a Retry-After wait is relative to the answer"
    );
    // A wall-clock reset (epoch seconds) is not relative; no hint is not either.
    let at = classifier().classify(
        &json!({"status": 429, "message": "Claude usage limit reached|1795000000"}),
        NOW,
    );
    assert!(at.reset_at_ms.is_some() && !at.relative_hint);
    let none = classifier().classify(&json!({"status": 429, "message": "slow down"}), NOW);
    assert!(none.reset_at_ms.is_none() && !none.relative_hint);
    // Answered long ago: the hint has passed, nothing left to wait.
    let c = classifier().classify(&event(json!(NOW - 60_000)), NOW);
    assert_eq!(
        (c.retry_after_ms, c.reset_at_ms),
        (Some(0), Some(NOW - 30_000))
    );
    // No usable timestamp (missing, in the future, not a number): counted from now.
    for ts in [json!(null), json!(NOW + 5_000), json!("yesterday")] {
        let c = classifier().classify(&event(ts), NOW);
        assert_eq!(
            (c.retry_after_ms, c.reset_at_ms),
            (Some(30_000), Some(NOW + 30_000))
        );
    }
}

#[test]
fn deciding_rules_are_named() {
    let rule = |v: Value| {
        let c = classifier().classify(&v, NOW);
        (c.reason.unwrap(), c.rule.unwrap().to_string(), c.retryable)
    };
    // A rejected parameter named `timeout` under a 502 is a format error.
    assert_eq!(
        rule(json!({"status": 502, "message": "Unsupported parameter: timeout"})),
        (Reason::Format, "rejected-parameter".into(), false)
    );
    // A 402 saying "rate limit" is a rate limit.
    assert_eq!(
        rule(json!({"status": 402, "message": "rate limit exceeded, slow down"})).0,
        Reason::RateLimit
    );
    // A 400 whose body says insufficient_quota is billing.
    assert_eq!(
        rule(
            json!({"status": 400, "body": {"error": {"type": "insufficient_quota", "message": "quota"}}})
        ),
        (Reason::Billing, "insufficient-quota".into(), false)
    );
    // A 429 "Request too large" is not retryable.
    let too_large = rule(
        json!({"status": 429, "message": "Request too large for gpt-4o on tokens per min (TPM): Limit 30000, Requested 50000."}),
    );
    assert_eq!(too_large.0, Reason::ContextOverflow);
    assert!(!too_large.2);
    // A bare status decides through its row; nothing at all is `no-match`.
    assert_eq!(rule(json!({"status": 429})).1, "status-429");
    assert_eq!(rule(json!("something odd")).1, "no-match");
    // An HTML page under a 5xx is read by its status alone.
    assert_eq!(
        rule(json!(
            "503 <!doctype html><html><body>Rate limit exceeded</body></html>"
        ))
        .1,
        "status-503"
    );
    // Chinese provider messages.
    assert_eq!(rule(json!("当前负载过高")).0, Reason::Overloaded);
    assert_eq!(rule(json!("账户余额不足")).0, Reason::Billing);
    assert_eq!(rule(json!("请求过于频繁")).0, Reason::RateLimit);
    // Not a payment error: a number at the start of prose.
    assert_eq!(
        rule(json!("402 items found in the database")).0,
        Reason::Unknown
    );
}

#[test]
fn generalised_wordings_and_status_policies() {
    let rule = |v: Value| {
        let c = classifier().classify(&v, NOW);
        (c.reason.unwrap(), c.rule.unwrap().to_string())
    };
    // "overloading" and capacity limits are overload, whatever word form.
    assert_eq!(
        rule(json!(
            "503 Service Unavailable: upstream is shedding load because of overloading"
        ))
        .0,
        Reason::Overloaded
    );
    assert_eq!(
        rule(json!(
            "service temporarily unavailable due to capacity limits in this region"
        ))
        .0,
        Reason::Overloaded
    );
    assert_eq!(
        rule(json!(
            "request rejected: insufficient capacity, please retry"
        ))
        .0,
        Reason::Overloaded
    );
    assert_eq!(rule(json!("overloaded_error")).0, Reason::Overloaded);
    // A rejected parameter under an access / payment / rate-limit / overload status is read by
    // the status; under a 400 or a 5xx it is still a format error.
    let rejected = |status: u16| {
        rule(json!({"status": status, "code": "unknown_parameter",
                    "message": format!("{status} Unrecognized request argument: top_k")}))
        .0
    };
    assert_eq!(rejected(401), Reason::Auth);
    assert_eq!(rejected(402), Reason::Billing);
    assert_eq!(rejected(429), Reason::RateLimit);
    assert_eq!(rejected(529), Reason::Overloaded);
    assert_eq!(rejected(400), Reason::Format);
    assert_eq!(rejected(503), Reason::Format);
    // Alibaba `Throttling.*` codes are throttles even next to `insufficient_quota`.
    assert_eq!(
        rule(json!("429 {\"error\":{\"code\":\"Throttling.RateQuota\",\"type\":\"insufficient_quota\",\"message\":\"Requests rate limit exceeded\"}}")),
        (Reason::RateLimit, "alibaba-throttling".into())
    );
    assert_eq!(
        rule(json!({"status": 429, "body": {"error": {"code": "insufficient_quota", "message": "Allocated quota limit reached for this model"}}})).0,
        Reason::RateLimit
    );
    // Token ceilings stated as "must have less than N tokens" or "context length of only N".
    assert_eq!(
        rule(json!({"status": 422, "message": "Input validation error: `inputs` must have fewer than 4,096 tokens. Given: 5000"})).0,
        Reason::ContextOverflow
    );
    assert_eq!(
        rule(json!({"status": 400, "message": "The model is loaded with a context window of only 2048 tokens; reload it or shorten the input"})).0,
        Reason::ContextOverflow
    );
    // A 413 worded as a per-minute token limit the request fits in is a rate limit; one whose
    // stated request is larger than the limit is an overflow.
    assert_eq!(
        rule(json!(
            "413 Payload too large: tokens per minute (TPM) budget hit, wait and retry"
        ))
        .0,
        Reason::RateLimit
    );
    assert_eq!(
        rule(json!(
            "413 Request too large on tokens per minute (TPM): Limit 6000, Requested 9100"
        ))
        .0,
        Reason::ContextOverflow
    );
    // A context overflow under a client-closed 499 stays an overflow.
    assert_eq!(
        rule(
            json!({"status": 499, "message": "prompt is too long: 300000 tokens > 200000 maximum"})
        )
        .0,
        Reason::ContextOverflow
    );
    // "an unknown error occurred" as the message is a transient failure; reported in prose it
    // is not.
    assert_eq!(
        rule(json!("Error: An unknown error occurred")).0,
        Reason::ServerError
    );
    assert_eq!(
        rule(json!("{\"message\":\"An unknown error occurred\"}")).0,
        Reason::ServerError
    );
    assert_eq!(
        rule(json!(
            "the changelog says an unknown error occurred in older builds"
        ))
        .0,
        Reason::Unknown
    );
}

#[test]
fn chinese_wording_families() {
    let r = |s: &str| reason(json!(s)).unwrap();
    // Rate limits: request/call frequency, throttling, concurrency caps.
    for s in [
        "接口调用频次过高，请稍后再试",
        "触发限流",
        "并发量已达上限",
        "请求过多，请降低速度",
    ] {
        assert_eq!(r(s), Reason::RateLimit, "{s}");
    }
    // Long windows: daily/monthly caps, quota or credit used up.
    for s in ["本月调用次数已达上限", "额度已经耗尽", "配额用完了"] {
        assert_eq!(r(s), Reason::Quota, "{s}");
    }
    // Overload.
    for s in ["模型过载，请稍后", "集群繁忙", "当前访问量激增，请稍候"] {
        assert_eq!(r(s), Reason::Overloaded, "{s}");
    }
    // Context overflow.
    for s in [
        "提示词长度超出限制",
        "输入过长，请精简内容",
        "token数量超过模型上限",
    ] {
        assert_eq!(r(s), Reason::ContextOverflow, "{s}");
    }
    // Auth, server, network, missing model.
    assert_eq!(r("API Key 错误，请检查配置"), Reason::Auth);
    assert_eq!(r("凭证已失效"), Reason::Auth);
    assert_eq!(r("上游服务异常"), Reason::ServerError);
    assert_eq!(r("网络连接中断"), Reason::Network);
    assert_eq!(r("找不到指定模型"), Reason::ModelNotFound);
    // English neighbours of the same kinds.
    assert_eq!(r("Invalid authorization header format"), Reason::Auth);
    assert_eq!(
        r("input tokens exceed the configured limit of 32000 tokens"),
        Reason::ContextOverflow
    );
    assert_eq!(
        r("We are experiencing high traffic right now"),
        Reason::Overloaded
    );
}
