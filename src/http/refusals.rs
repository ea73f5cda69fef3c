//! hyper's own refusals as problems. hyper answers a request it cannot parse before any
//! handler runs — a request line over 65534 bytes (414), headers over its buffer (431),
//! anything else that is not HTTP/1.1 (400) — with an empty body. The connection's
//! socket wrapper ([`super::head_timeout::Watched`]) passes each response head it
//! writes through [`as_problem`], which gives those the same `application/problem+json`
//! body every other error has, so a client always learns what to fix.
//!
//! A request whose head does not arrive in time gets no answer from hyper at all; the
//! server then sends [`head_timeout`] itself on a second handle of the socket.
//!
//! The rule is narrow: a 4xx head with `content-length: 0` at the start of a write.
//! crisisd's own errors always carry a problem body, and no body it sends starts with
//! `HTTP/1.1 `, so only hyper's refusals match.

use serde_json::json;

/// The problem response to send instead of `head` when `head` is one of hyper's
/// empty-bodied refusals (a whole head, ending in an empty line); `None` otherwise.
pub(super) fn as_problem(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 4")?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let head = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = std::str::from_utf8(rest.get(..2)?)
        .ok()?
        .parse::<u16>()
        .ok()
        .map(|n| 400 + n)?;
    let headers: Vec<&str> = lines.collect();
    let empty = headers.iter().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("content-length") && value.trim() == "0"
        })
    });
    if !empty {
        return None;
    }
    let (code, detail) = match status {
        414 => (
            "uri_too_long",
            "the request line is longer than 65534 bytes; send fewer or shorter query parameters",
        ),
        431 => (
            "headers_too_large",
            "the request's headers are too large; send fewer or shorter headers",
        ),
        _ => (
            "invalid_request",
            "the request is not valid HTTP/1.1 (its request line or a header does not parse)",
        ),
    };
    let title = status_line.splitn(3, ' ').nth(2).unwrap_or("Bad Request");
    let body = json!({"code": code, "title": title, "detail": detail}).to_string();
    let mut answer = format!("{status_line}\r\ncontent-type: application/problem+json\r\n");
    for line in headers {
        let name = line.split(':').next().unwrap_or_default();
        if !name.eq_ignore_ascii_case("content-length")
            && !name.eq_ignore_ascii_case("content-type")
        {
            answer.push_str(line);
            answer.push_str("\r\n");
        }
    }
    answer.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Some(answer.into_bytes())
}

/// The whole answer to a request whose head did not arrive within `timeout`: hyper
/// closes such a connection without a word, and the server sends this first.
pub(super) fn head_timeout(timeout: std::time::Duration) -> Vec<u8> {
    let body = json!({
        "code": "request_timeout",
        "title": "Request Timeout",
        "detail": format!(
            "the request's line and headers did not arrive within {} ms; send them in one go",
            timeout.as_millis()
        ),
    })
    .to_string();
    format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(head: &str) -> Option<String> {
        as_problem(head.as_bytes()).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn hypers_empty_refusals_become_problems() {
        let refusal = "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 03:16:23 GMT\r\n\r\n";
        let rewritten = answer(refusal).expect("a refusal");
        let (head, body) = rewritten.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("date: Sun, 06 Dec 2026"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(!head.contains("content-length: 0"));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "uri_too_long");
        assert_eq!(problem["title"], "URI Too Long");
        for (status, code) in [
            ("431 Request Header Fields Too Large", "headers_too_large"),
            ("400 Bad Request", "invalid_request"),
        ] {
            let refusal = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            let rewritten = answer(&refusal).expect("a refusal");
            assert!(
                rewritten.contains(&format!("\"code\":\"{code}\"")),
                "{rewritten}"
            );
        }
    }

    #[test]
    fn everything_else_passes_untouched() {
        for other in [
            // crisisd's own problems carry a body.
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 91\r\n\r\n",
            // Successes, and a head that is not whole in this write.
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n",
            // A head followed by bytes of a body, and bodies.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nx",
            "{\"code\":\"x\"}",
            "",
        ] {
            assert_eq!(answer(other), None, "{other:?}");
        }
    }
}
