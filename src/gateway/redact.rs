//! Keeps credentials out of anything the client reports: errors, events and `Debug` output.

/// Removes the configured token and password from text that came from the gateway or the
/// network stack before it goes into an error or an event.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// A scrubber for these credentials (`None`s and empty strings are skipped).
    pub(crate) fn new(token: Option<&str>, password: Option<&str>) -> Self {
        let secrets = [token, password]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Self { secrets }
    }

    /// `text` with every credential replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// A URL safe to show: user info and query string removed.
pub(crate) fn display_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    match scheme {
        Some(s) => format!("{s}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_credential() {
        let s = Scrubber::new(Some("tok123"), Some("pw456"));
        assert_eq!(
            s.scrub("bad tok123 and pw456 and tok123"),
            "bad [redacted] and [redacted] and [redacted]"
        );
        assert_eq!(Scrubber::new(None, Some("")).scrub("x"), "x");
    }

    #[test]
    fn display_url_drops_userinfo_and_query() {
        assert_eq!(
            display_url("ws://u:p@127.0.0.1:18789/gw?token=t#f"),
            "ws://127.0.0.1:18789/gw"
        );
        assert_eq!(display_url("ws://127.0.0.1:1"), "ws://127.0.0.1:1");
    }
}
