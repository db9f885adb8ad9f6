//! Keeps credentials out of anything the client reports: errors, events and `Debug` output.

/// Removes the configured credentials (and known key shapes) from text that came from the
/// gateway or the network stack before it goes into an error or an event.
pub(crate) use crate::redact::Redactor as Scrubber;

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
    fn display_url_drops_userinfo_and_query() {
        assert_eq!(
            display_url("ws://u:p@127.0.0.1:18789/gw?token=t#f"),
            "ws://127.0.0.1:18789/gw"
        );
        assert_eq!(display_url("ws://127.0.0.1:1"), "ws://127.0.0.1:1");
    }
}
