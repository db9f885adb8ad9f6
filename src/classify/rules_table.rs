//! The built-in rules table: data, in precedence order (the first matching rule wins; every
//! [`Tier::Code`](super::rule::Tier::Code) rule outranks every text rule).
//!
//! The wordings follow OpenClaw's own failover classifier (`src/agents/failover/`, MIT): its
//! message patterns, context-overflow tables, provider-specific and 402 rules, in the order its
//! `classifyFailoverClassificationFromMessage` checks them, with OpenClaw's catch-all `timeout`
//! split into `timeout` / `network` / `server_error` by wording and its `rate_limit` split into
//! short windows (`rate_limit`) and long ones (`quota`). Patterns are case-insensitive; `\b` is
//! an ASCII word boundary.

use super::rule::{checked, code, hint, text, under, Rule};
use super::size_ceiling::requested_exceeds_stated_limit;
use crate::reason::Reason::*;

/// Every built-in rule, in precedence order.
pub(crate) const RULES: &[Rule] = &[
    // ── Explicit codes: decide whatever the status says (see `decide.rs` for the one
    // exception: a rejected parameter under an access/payment/rate-limit/overload status). ──
    // A rejected parameter is a format error even when the parameter is named `timeout`,
    // `rate_limit` or `server_error`, and even under a 5xx.
    code(
        "rejected-parameter",
        Format,
        r"unknown_parameter|unsupported_parameter|\b(?:unsupported|unknown|unrecognized) (?:request )?(?:parameter|argument)s?\b|unexpected keyword argument|extra inputs are not permitted",
    ),
    code(
        "deactivated-workspace",
        AuthPermanent,
        r"deactivated[_ ]workspace",
    ),
    // Alibaba Bailian/DashScope documents its `Throttling.*` codes ("Allocated quota exceeded",
    // even when sent with `insufficient_quota`) as per-second/per-minute throttles, not billing.
    code(
        "alibaba-throttling",
        RateLimit,
        r"\bthrottling\.[a-z]+\b|\ballocated quota (?:exceeded|limit)",
    ),
    code("insufficient-quota", Billing, r"insufficient[_ ]quota"),
    code("zhipu-1311-plan", Billing, r#""code"\s*:\s*1311\b"#),
    // A parsed JSON body or a structured `code` field reaches the rules as the bare value.
    code(
        "volcengine-invalid-subscription",
        Billing,
        r#""code"\s*:\s*"InvalidSubscription"|\binvalidsubscription\b"#,
    ),
    code("baidu-ce-011", Auth, r"\bce-011\b"),
    code(
        "model-deactivated",
        ModelNotFound,
        r"model(?:_is)?_deactivated|model (?:has been|is|was) deactivated",
    ),
    // ── Guards: wordings that look like another reason but are not. ──────────────────────
    // Documents (several Markdown headings) are replies, not errors.
    text("markdown-document", Unknown, r"(?m)^##\s+\S[\s\S]*^##\s+\S"),
    text(
        "image-too-large",
        Format,
        r"\bimage (?:dimensions?|width|height|size)\b[^\n]{0,80}\bexceeds?\b|\bimage exceeds\s*\d|does not support image inputs?|unsupported image input|no endpoints found\b[^\n]*\bsupport image input",
    ),
    text(
        "session-transcript-invalid",
        Format,
        r"invalid session transcript entry",
    ),
    text(
        "oauth-session-expired",
        Auth,
        r"oauth session (?:has )?expired|failed to authenticate:\s*oauth",
    ),
    text(
        "session-expired",
        Format,
        r"\b(?:session (?:not found|does not exist|expired|invalid)|conversation (?:not found|does not exist|expired|invalid)|no conversation found|no such session|invalid session|(?:session|conversation) id not found)\b",
    ),
    text(
        "context-window-too-small",
        Format,
        r"context window[^\n]*(?:too small|minimum is)",
    ),
    text(
        "reasoning-required",
        Format,
        r"reasoning is (?:mandatory|required)|requires reasoning|\breasoning\b[^\n]*cannot be disabled",
    ),
    text(
        "tls-certificate",
        Network,
        r"cert(?:ificate)?[_ ]has[_ ]expired|\bcert_[a-z_]+|self[_ -]signed certificate|unable to verify the first certificate|unable_to_verify_leaf_signature|err_tls_",
    ),
    // ── Model not found (before context overflow: "model … not found" is specific). ───────
    text(
        "model-no-endpoints",
        ModelNotFound,
        r"no endpoints found for|\brouter not found\b",
    ),
    text(
        "model-unknown",
        ModelNotFound,
        r"unknown model|\bno such model\b|model_not_found|模型不存在|模型未找到|找不到(?:该|指定的?)?模型",
    ),
    text(
        "model-not-found",
        ModelNotFound,
        r"model[_\-\s]?not[_\-\s]?found|\bmodel\b[^\n]{0,60}?\b(?:not found|could not be found|was not found)\b|models/\S+ is not found|selected model[^\n]*not[_\-\s]?found|\bmodel:\s*[a-z0-9._/-]+[\s\S]*not[_\-\s]?found|not[_\-\s]?found[\s\S]*\bmodel:\s*[a-z0-9._/-]+",
    ),
    text(
        "model-404-not-found",
        ModelNotFound,
        r"\b404\b[\s\S]*\bnot[_\-\s]?found\b",
    ),
    text("model-not-found-error", ModelNotFound, r"not_found_error"),
    text(
        "model-not-supported",
        ModelNotFound,
        r"\bnot supported model\b|\bmodel\b[^.]{0,120}?\bis not supported when using\b",
    ),
    text(
        "model-does-not-exist",
        ModelNotFound,
        r"model[\s\S]{0,200}(?:does not exist|doesn't exist)|(?:does not exist|doesn't exist)[\s\S]{0,200}\bmodel\b",
    ),
    text(
        "model-retired",
        ModelNotFound,
        r"\b(?:was|been|is) (?:retired|decommissioned|sunset)\b|\bretired at\b|model[\s\S]{0,120}deprecated[\s\S]{0,200}(?:upgrade|transition) to|stealth model[\s\S]*find it here",
    ),
    text(
        "model-invalid",
        ModelNotFound,
        r"is not a valid model(?: id)?\b|invalid model(?:$|[^ r]| [^r]| r(?:$|[^e]))|model identifier is invalid",
    ),
    text(
        "model-not-ready",
        Overloaded,
        r"modelnotreadyexception|\bmodel is not ready\b",
    ),
    text(
        "workers-ai-quota",
        RateLimit,
        r"\bworkers_ai\b[\s\S]*\bquota limit exceeded\b",
    ),
    // ── Context overflow (explicit wordings; TPM rate limits are not overflows). ──────────
    checked(
        "tpm-rate-limit",
        RateLimit,
        r"\btpm\b|tokens per minute|tokens per min\b",
        |t| !requested_exceeds_stated_limit(t),
    ),
    text(
        "throttling",
        RateLimit,
        r"^throttling error:|\bthrottl(?:ing[_]?exception|ing|ed)\b|throttlingexception|\brate exceeded\b",
    ),
    text(
        "request-too-large-for-model",
        ContextOverflow,
        r"\brequest too large for\b",
    ),
    text(
        "context-overflow",
        ContextOverflow,
        concat!(
            r"request_too_large|context[_ ]overflow:|\bcontext_overflow\b|(?:due to|because of|caused by) (?:a )?context overflow",
            r"|prompt has [\d,]+ tokens?, but the configured context size is [\d,]+ tokens?",
            r"|invalid_argument[\s\S]*maximum number of tokens|request exceeds the maximum size",
            r"|context[_ ]length[_ ]exceeded|maximum context length|prompt is too long|prompt too long|prompt (?:is )?too large",
            r"|exceeds (?:the )?model'?s? (?:maximum )?context|model token limit",
            r"|input (?:token count )?exceeds[\s\S]*maximum number of (?:input )?tokens",
            r"|context window[\s\S]*ran out of (?:room|space)|ran out of (?:room|space)[\s\S]*context window",
            r"|request size exceeds[\s\S]*context window|exceeds? (?:the )?context (?:limit|window)|context window exceeds limit|context window exceeded",
            r"|max_tokens[\s\S]*exceed[\s\S]*context|input length[\s\S]*exceed[\s\S]*context",
            r"|input \([\d,]+\s*tokens?\) is longer than (?:the )?model'?s context length",
            r"|\b413\b[\s\S]*too large|request entity too large|context_window_exceeded",
            r"|input length [\d,]+\s+tokens? exceeds the model limit",
            r"|上下文过长|上下文超出|上下文长度超|超出最大上下文|请压缩上下文",
            r"|(?:输入|提示词|文本)(?:内容)?(?:长度)?(?:过长|超过|超出|超长)|(?:token|令牌)\s*(?:数量?)?\s*(?:超过|超出)",
            r"|\binput tokens? exceeds? (?:the )?(?:configured |maximum )?limit\b",
            r"|input is too long for (?:this |the |requested )?model|\binput (?:is )?too long\b",
            r"|ollama error:\s*context length exceeded|total tokens?[^\n]*exceeds? (?:the )?(?:model(?:'s)? )?(?:max|maximum|limit)",
            r"|(?:request|prompt) \(\d[\d,]*\s*tokens?\) exceeds (?:the )?available context size|context size has been exceeded|exceeds the available context size",
            r"|exceeds? (?:the )?(?:model'?s? )?maximum context (?:length|window)|reduce the length of the (?:messages|prompt|input)",
            r"|maximum (?:prompt|input) length|too many input tokens|exceeds the maximum number of tokens",
            r"|tokens?[` ]+\+[` ]*max_new_tokens`? must be <=|context (?:window|length) (?:is|of) [\d,.]+k? tokens[^\n]*requested",
            r"|exceeded model token limit|tokens? in request more than max tokens? allowed|prompt exceeds max(?:imum)? length",
            r"|too large for model with \d+ maximum context length|greater than the context length|exceeds (?:the )?maximum allowed input length",
            r"|\binputs?`? must have (?:less|fewer) than [\d,]+ tokens|\bcontext (?:length|size|window) of only [\d,]+ tokens",
        ),
    ),
    // ── Replayed-history and request-shape errors. ────────────────────────────────────────
    text(
        "replay-invalid",
        Format,
        concat!(
            r"\bprevious_response_id\b[\s\S]*\b(?:invalid|unknown|not found|does not exist|expired|mismatch)\b",
            r"|\btool_(?:use|call)\.(?:input|arguments)\b[\s\S]*\b(?:missing|required)\b|incorrect role information|roles must alternate",
            r"|input item id does not belong to this connection|thinking blocks? (?:cannot|can't|may not) be modified",
            r"|\bthinking\b[\s\S]*(?:\b(?:invalid|expired)\b[\s\S]*\bsignature\b|\bsignature\b[\s\S]*\b(?:invalid|expired)\b)",
            r"|(?:\b(?:invalid|expired)\b[\s\S]*\bsignature\b|\bsignature\b[\s\S]*\b(?:invalid|expired)\b)[\s\S]*\bthinking\b",
        ),
    ),
    // ── 402-only hints (OpenClaw's classify402Message). ──────────────────────────────────
    under(
        402,
        "402-quota-refresh-window",
        RateLimit,
        r"subscription quota limit[\s\S]*(?:automatic quota refresh|rolling time window)",
    ),
    under(
        402,
        "402-billing-hint",
        Billing,
        concat!(
            r"insufficient (?:credits|quota|balance)|credit balance|plans & billing|add more credits|top up|billing hard limit|hard limit reached",
            r"|(?:upgrade your plan|upgrade plan|current plan|subscription)[\s\S]*\blimit|\blimit[\s\S]*(?:upgrade your plan|upgrade plan|current plan|subscription)",
            r"|maximum allowed[\s\S]*\blimit|\blimit[\s\S]*maximum allowed",
        ),
    ),
    under(
        402,
        "402-rate-limit",
        RateLimit,
        r"rate[ _-]?limit|too many requests",
    ),
    under(
        402,
        "402-spend-or-usage-window",
        Quota,
        concat!(
            r"(?:try again|retry|temporar|cooldown)[\s\S]*(?:usage limit|rate limit|organization usage)|(?:usage limit|rate limit|organization usage)[\s\S]*(?:try again|retry|temporar|cooldown)",
            r"|(?:daily|weekly|monthly)[\s\S]*(?:usage limit|spend(?:ing)? limit|\blimit\b[\s\S]*\breset)|(?:usage limit|spend(?:ing)? limit)[\s\S]*(?:daily|weekly|monthly)",
            r"|(?:organization|workspace)[\s\S]*\blimit\b[\s\S]*(?:spend|billing period|exceeded|reached|exhausted)|spend(?:ing)? limit[\s\S]*(?:organization|workspace)",
        ),
    ),
    // ── Google quota errors: a per-day quota is `quota`, anything else `rate_limit`, even
    //    when the text also says "exceeded your current quota … billing".
    text(
        "google-quota-daily",
        Quota,
        r"(?:resource_exhausted|quota exceeded for (?:quota )?metric|google\.rpc\.quotafailure)[\s\S]*(?:perday|per[ _-]?day|daily|perweek|permonth)|(?:perday|per[ _-]?day|daily)[\s\S]*(?:resource_exhausted|quota exceeded for (?:quota )?metric|google\.rpc\.quotafailure)",
    ),
    text(
        "google-quota",
        RateLimit,
        r"resource_exhausted|quota exceeded for (?:quota )?metric|google\.rpc\.quotafailure|\bresource[ -]?exhausted\b",
    ),
    // A 429 whose only billing word is a generic "insufficient account balance" (no billing
    // type or code, no top-up wording) is a rate limit: providers send it while throttling
    // (OpenClaw's ambiguous-429-balance rule).
    Rule {
        check: Some(no_billing_signal_beyond_account_balance),
        ..under(
            429,
            "429-ambiguous-balance",
            RateLimit,
            r"\binsufficient account balance\b",
        )
    },
    // ── Billing. ─────────────────────────────────────────────────────────────────────────
    text(
        "billing",
        Billing,
        concat!(
            r"payment[ _]required|insufficient[_ ]credits?|used all available credits|\b(?:go|free)usagelimiterror\b|available balance|out of budget",
            r"|credit balance|plans? (?:&|and) billing|insufficient[_ ]balance|\binsufficient \w+ balance\b|insufficient (?:funds|account balance)",
            r"|requires? more credits|(?:purchase|buy|add|get) (?:more )?credits|(?:out|run out) of credits|out of extra usage|draw from your extra usage",
            r"|extra usage is required|does not have a valid coding\s*plan subscription|subscription has expired",
            r"|current\s+subscription\s+plan\b[\s\S]*\b(?:does\s+not|doesn't|not)\b[\s\S]*\binclude\s+access|\bmodel\b[\s\S]*\bnot\s+available\b[\s\S]*\bcurrent\s+plan\b",
            r"|billing_hard_limit|billing_not_active|billing[_ ](?:error|issue|problem|failure)|billing hard limit|payment (?:method|failed|issue|is required)",
            r"|exceeded your current quota,? please check your plan|account\b[^.\n]{0,40}?\bis not active|used up your points|no available asset for api access",
            r"|please recharge|\brecharge your\b|余额不足|欠费|请充值|spend(?:ing)? limit",
            r"|^\s*(?:error[:\s-]+)?billing(?:\s+error\b|\s*[:-])[\s\S]*(?:upgrade|credits|payment|purchase|subscription|plan)",
        ),
    ),
    // ── Long windows (quota) before short ones (rate limit). ─────────────────────────────
    text(
        "periodic-usage-limit",
        Quota,
        r"\b(?:daily|weekly|monthly)(?:/(?:daily|weekly|monthly))* (?:usage )?limits?\b",
    ),
    text(
        "quota-window",
        Quota,
        concat!(
            r"usage limit|budgetexceeded|exceededbudget|budget (?:has been |was )?exceeded|exceeded (?:your |the )?budget|spend(?:ing)? (?:threshold|cap)",
            r"|(?:per|a)[ _-](?:day|week|month)\b|\bdaily\b|\bweekly\b|\bmonthly\b|perday|perweek|permonth|\brpd\b|\btpd\b|tokens per day|requests per day",
            r"|5-hour|five-hour|\b5h (?:window|limit)|(?:7|seven)-day (?:window|limit)|配额不足|配额已用尽|额度不足|额度已用尽",
            r"|(?:配额|额度)(?:已经?)?(?:用尽|用完|耗尽)|(?:今日|今天|每日|当日|本周|每周|本月|每月)[^\n]{0,48}(?:上限|限额|用尽|用完|耗尽)",
        ),
    ),
    text(
        "rate-limit",
        RateLimit,
        concat!(
            r"rate[ _-]?limit|too[ _-]?many[ _-]?(?:concurrent )?requests|\bconcurrency limit\b|model_cooldown|exceeded your current quota",
            r"|quota[_ -]?exceeded|exceeded (?:the |your )?quota|(?:tokens|requests) per (?:min|minute|second|sec)\b|\b(?:rpm|tps|rps)\b",
            r"|slow down|too many concurrent|resource has been exhausted|request limit reached|请求过于频繁|调用频率|频率限制",
            r"|^\s*429\b|\b429\b[\s:)\].,-]*quota\b",
            r"|(?:请求|访问|调用)(?:频率|频次)|频率(?:过高|超限|超过|超出)|(?:触发|已被|被|遭到)限流|限流(?:中|了)|请求(?:量|数)?过多|并发(?:数|量)?(?:超过|超出|已达|达到)?(?:限制|上限)",
        ),
    ),
    // ── Overloaded and server errors. ────────────────────────────────────────────────────
    text(
        "overloaded",
        Overloaded,
        r"overload(?:ed|ing)|\b(?:selected\s+)?model\s+(?:is\s+)?at capacity\b|over capacity|at capacity|capacity (?:exceeded|constraints|limits?\b)|(?:due to|lack of|insufficient) capacity\b|high demand|high load|server is busy|服务过载|当前负载过高|访问量过大|服务繁忙|系统繁忙|(?:服务器|服务|系统|模型|节点|集群)(?:已)?过载|负载过高|(?:服务器|接口|模型|集群)繁忙|(?:访问|请求)量(?:较大|过大|激增)|high traffic|capacity reached",
    ),
    text(
        "stop-reason-error",
        ServerError,
        r"\b(?:finish_reason|reason):\s*error\b",
    ),
    text(
        "stop-reason-malformed",
        ServerError,
        r"\b(?:finish_reason|reason):\s*malformed_response\b",
    ),
    text(
        "stop-reason-network",
        Network,
        r"\b(?:finish_reason|reason):\s*network_error\b",
    ),
    text(
        "stop-reason-abort",
        Timeout,
        r"\b(?:finish_reason|reason):\s*abort\b",
    ),
    text(
        "structured-server-error",
        ServerError,
        r#""(?:type|code)"\s*:\s*"(?:server_error|upstream_error)"|\bupstream_error\b|an error occurred while processing"#,
    ),
    // ── Auth. ────────────────────────────────────────────────────────────────────────────
    text(
        "reauth-required",
        AuthPermanent,
        concat!(
            r"(?:oauth token refresh failed|could not be refreshed)[\s\S]*(?:invalid_grant|refresh_token_(?:reused|expired)|token_invalidated|invalid[_ ]refresh[_ ]token",
            r"|sign_in_again|sign(?:ing)? in again|log in again|expired or revoked|\brevoked\b)|(?:access token|authentication session) could not be refreshed",
        ),
    ),
    text(
        "auth-permanent",
        AuthPermanent,
        concat!(
            r"api[_ ]?key[_ ]?(?:revoked|deactivated|deleted)|\bkey (?:has been |was |is )?(?:revoked|disabled|deactivated)|account_deactivated",
            r"|account (?:has been |was |is )?(?:disabled|deactivated|suspended|banned|terminated)|not allowed for this organization",
            r"|organi[sz]ation (?:has been |was |is )?(?:disabled|deactivated|suspended|banned|restricted)|credentials? (?:has|have) been revoked",
            r"|access (?:has been )?terminated|access_terminated|permission[_ ]?error|permission_denied|not allowed to (?:access|use)",
            r"|does not have (?:access|permission)|accessdeniedexception|unsupported_country|region (?:is )?not supported|country, region, or territory",
        ),
    ),
    text(
        "auth",
        Auth,
        concat!(
            r"invalid[_ ]?api[_ ]?key(?:$|[^a-z0-9])|api[_ ]?key[_ ]?(?:is[_ ]?)?(?:invalid|not[_ ]?valid)(?:$|[^a-z0-9])|could not (?:authenticate|validate)[\s\S]*(?:api[_ ]?key|credentials)",
            r"|incorrect api[ -]?key|invalid x-api-key|invalid (?:auth(?:entication)?|bearer|access)? ?token|invalid_token|authentication|re-authenticate",
            r"|oauth token refresh failed|unauthori[sz]ed|unauthenticated|forbidden|access denied|insufficient permissions?|missing scopes?:",
            r"|(?:\b|_|token|key|session)expired(?:\b|_)|expiredtokenexception|\b40[13]\b|no credentials found|no api[ -]?key|missing (?:api[ -]?key|authentication|credentials)",
            r"|api[ -]?key (?:is )?(?:missing|required|empty)|apikey is empty|invalid (?:client )?secret|invalid [^\n]{0,30}\bcredentials\b|\bfailed to (?:extract|parse|validate|decode)\b[\s\S]*\btoken\b",
            r"|unrecognizedclientexception|security token included in the request is invalid|not logged in|auth[_ ]profile[_ ]unavailable",
            r"|无权访问|认证失败|鉴权失败|密钥无效|apikey 无效|(?:api[ _-]?key|密钥|令牌|凭证)\s*(?:无效|错误|不正确|已?过期|已失效)|invalid authori[sz]ation\b|(?:当前\s*ak)[\s\S]*?(?:违规请求|禁止访问)",
        ),
    ),
    // Zhipu/Z.ai `1113` (wrong endpoint or credentials) is an auth pattern like the others, so a
    // body that also says billing, rate limit or overload is read by that wording (OpenClaw's
    // order).
    text("zhipu-1113-credentials", Auth, r#""code"\s*:\s*1113\b"#),
    // ── Transient transport and server failures. ─────────────────────────────────────────
    text(
        "network-code",
        Network,
        r"\b(?:econn(?:refused|reset|aborted)|enet(?:unreach|reset|down)|ehost(?:unreach|down)|epipe|enotfound|eai_again)\b|err_stream_premature_close",
    ),
    text(
        "unknown-error",
        ServerError,
        // The phrase as the message (or a field of it), not reported in prose ("the user said
        // an unknown error occurred").
        r#"(?:(?m:^)|[:"\]>])\s*an unknown error occurred|^\s*unknown error\b|unknown error, \d{3}"#,
    ),
    text(
        "server-error",
        ServerError,
        concat!(
            r"internal[ _]?server[ _]?error|status:\s*internal\b|internal_error|server_error|^\s*server error\b|\bserver error(?: occurred|:|'| \d{3})|the server had an error|internal error",
            r"|bad[ _]?gateway|gateway[ _-]?time-?out|upstream (?:connect )?error|upstream request timeout|service[_ ]?(?:temporarily[_ ])?unavailable",
            r"|unexpected error|temporar(?:y|ily)\b[^\n]{0,40}\b(?:failure|error|unable|unavailable)|backend error|internal database error",
            r"|request failed after repeated internal retries|internalserverexception|modelstreamerrorexception",
            r"|malformed (?:json )?response|malformed_streaming_fragment|expected '[^']*'(?: or '[^']*')* after [^\n]{0,40} in json|unexpected token [^\n]{0,20} in json|unexpected end of json",
            r"|内部错误|服务器错误|服务器内部错误|系统错误|系统异常|服务暂时不可用|服务不可用|(?:上游|后端)(?:服务)?(?:错误|异常)",
            r"|(?-i:\bINTERNAL\b|\bUNAVAILABLE\b)",
        ),
    ),
    text(
        "timeout",
        Timeout,
        r"\btimed? ?out\b|time-?outs?\b|time-?out[ _]?(?:error|exception)|e(?:socket)?timedout|und_err_\w*timeout|deadline[ _]exceeded|request took too long|operation was aborted|\baborted\b|请求超时|连接超时",
    ),
    text(
        "network",
        Network,
        concat!(
            r"socket hang up|fetch failed|network (?:error|failure|request failed|is unreachable)|connection (?:reset|refused|closed|error|aborted|failure|lost)",
            r"|apiconnectionerror|getaddrinfo|no such host|\bund_err_\w+|other side closed|premature close|typeerror: terminated|^\s*terminated\s*$",
            r"|stream (?:was )?(?:closed|aborted|disconnected)|stream ended\b|ended before (?:completion|next event|message_?stop)|without sending (?:any )?chunks?",
            r"|stream_read_error|(?:websocket|socket connection)[^\n]{0,30}closed|closed unexpectedly|^\s*(?:llm )?request failed\.?\s*$|网络错误|网络异常|连接错误|(?:网络)?连接(?:失败|中断|断开|被重置)|\bsocket (?:was )?closed\b",
        ),
    ),
    // ── Weaker wordings, only when nothing above matched. ────────────────────────────────
    hint(
        "context-overflow-loose",
        ContextOverflow,
        r"too many tokens|token limit exceeded|exceeds the limit of \d+|\b413\b",
    ),
    text(
        "format",
        Format,
        concat!(
            r"string should match pattern|tool_use\.id|tool_use_id|invalid request format|tool call id was[\s\S]*must be",
            r"|does not support assistant message prefill|conversation must end with a user message",
            r"|agent harness [\s\S]* does not support [\s\S]*provider is not one of|rejected the request schema|is deprecated for this model",
        ),
    ),
    hint(
        "format-generic",
        Format,
        concat!(
            r"validationexception|invalid_request_error|invalid[ _]request|bad[ _]?request|malformed|invalid_argument|unprocessable",
            r"|invalid (?:parameter|value|argument|schema|json|type|role)|validation (?:error|failed)|missing required|must be (?:a|an|one of|less|greater|at)\b",
            r"|unsupported value|not supported|unexpected (?:field|parameter)|invalid_type|serializationexception|param incorrect",
        ),
    ),
    hint("api-error", ServerError, r"\bapi_error\b"),
];

/// Whether `text` says nothing billing-specific besides "insufficient account balance": no
/// billing error type or code (`insufficient_balance`, `insufficient_quota`, `billing_…`,
/// `payment_required`), no credits, top-up or recharge wording.
fn no_billing_signal_beyond_account_balance(text: &str) -> bool {
    const SIGNALS: &[&str] = &[
        "insufficient_balance",
        "insufficient_quota",
        "insufficient_credits",
        "payment_required",
        "payment required",
        "billing",
        "credit",
        "top up",
        "top-up",
        "recharge",
        "充值",
        "欠费",
    ];
    let lower = text.to_lowercase();
    !SIGNALS.iter().any(|s| lower.contains(s))
}
