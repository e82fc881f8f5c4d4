//! An HTTP/1.x request head, parsed from untrusted bytes within hard limits, without
//! any I/O: the driver hands over what it has read so far and is told to read more, to
//! answer a request, or which error to answer before it closes the connection.
//!
//! Only what a read-only server needs is kept: the method (GET or HEAD; any other gets
//! 405), the path (the query is dropped) and whether the connection may stay open. A
//! request that announces a body is refused, since the server never reads one. The
//! limits are checked as the bytes arrive, so an oversized or malformed head is
//! refused as soon as it shows, not after 8 KiB.

/// The largest head, request line and header lines up to the empty line, in bytes.
pub const HEAD_MAX: usize = 8 * 1024;
/// The longest request line, in bytes (a longer target gets 414).
pub const REQUEST_LINE_MAX: usize = 2048;
/// The most header lines.
pub const HEADERS_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

/// A complete, acceptable request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: Method,
    /// The target's path, without the query.
    pub path: &'a str,
    /// The client lets the connection stay open for another request.
    pub keep_alive: bool,
}

/// Why a head is refused: the answer's status code, then the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400, with what is wrong.
    BadRequest(&'static str),
    /// 405: a method other than GET and HEAD.
    MethodNotAllowed,
    /// 414: the request line is longer than [`REQUEST_LINE_MAX`].
    UriTooLong,
    /// 431: the head is larger than [`HEAD_MAX`] or has more than [`HEADERS_MAX`] lines.
    HeadTooLarge,
    /// 505: not HTTP/1.0 or HTTP/1.1.
    VersionNotSupported,
}

impl Reject {
    pub fn code(self) -> u16 {
        match self {
            Reject::BadRequest(_) => 400,
            Reject::MethodNotAllowed => 405,
            Reject::UriTooLong => 414,
            Reject::HeadTooLarge => 431,
            Reject::VersionNotSupported => 505,
        }
    }

    /// A line for the answer's body.
    pub fn text(self) -> &'static str {
        match self {
            Reject::BadRequest(why) => why,
            Reject::MethodNotAllowed => "only GET and HEAD are served",
            Reject::UriTooLong => "the request line is too long",
            Reject::HeadTooLarge => "the request head is too large",
            Reject::VersionNotSupported => "only HTTP/1.0 and HTTP/1.1 are served",
        }
    }
}

/// What the bytes read so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse<'a> {
    /// No complete head yet, and nothing wrong so far: read more.
    Partial,
    /// A head of `len` bytes (what follows belongs to the next request).
    Complete {
        request: Request<'a>,
        len: usize,
    },
    Reject(Reject),
}

/// Parses the head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse<'_> {
    match parse_inner(buf) {
        Ok(Some((request, len))) => Parse::Complete { request, len },
        Ok(None) => Parse::Partial,
        Err(r) => Parse::Reject(r),
    }
}

/// `Ok(None)`: incomplete.
fn parse_inner(buf: &[u8]) -> Result<Option<(Request<'_>, usize)>, Reject> {
    let mut lines = Lines { buf, at: 0 };
    let Some(first) = lines.next()? else {
        // Bytes that can be in no request line (a TLS handshake, binary junk) are
        // refused at once rather than waited on.
        if buf
            .iter()
            .any(|&b| !(0x20..0x7f).contains(&b) && b != b'\r')
        {
            return Err(Reject::BadRequest("malformed request line"));
        }
        return if buf.len() > REQUEST_LINE_MAX {
            Err(Reject::UriTooLong)
        } else {
            Ok(None)
        };
    };
    if lines.at > REQUEST_LINE_MAX {
        return Err(Reject::UriTooLong);
    }
    let (method, target, version) = request_line(first)?;
    let mut host = 0;
    let mut close = false;
    let mut keep = false;
    let mut headers = 0;
    let mut body = false;
    loop {
        let Some(line) = lines.next()? else {
            return if buf.len() >= HEAD_MAX {
                Err(Reject::HeadTooLarge)
            } else {
                Ok(None)
            };
        };
        if lines.at > HEAD_MAX {
            return Err(Reject::HeadTooLarge);
        }
        if line.is_empty() {
            break;
        }
        headers += 1;
        if headers > HEADERS_MAX {
            return Err(Reject::HeadTooLarge);
        }
        let (name, value) = header(line)?;
        if name.eq_ignore_ascii_case(b"host") {
            host += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if !value.iter().all(u8::is_ascii_digit) || value.is_empty() {
                return Err(Reject::BadRequest("Content-Length is not a number"));
            }
            body |= value.iter().any(|&b| b != b'0');
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            body = true;
        }
    }
    let http11 = version == Version::Http11;
    if http11 && host != 1 {
        return Err(Reject::BadRequest(
            "an HTTP/1.1 request needs one Host header",
        ));
    }
    let method = method.ok_or(Reject::MethodNotAllowed)?;
    if body {
        // The server never reads a body, so it could not find the next request.
        return Err(Reject::BadRequest("a GET or HEAD request carries no body"));
    }
    let keep_alive = !close && (http11 || keep);
    let path = path_of(target);
    Ok(Some((
        Request {
            method,
            path,
            keep_alive,
        },
        lines.at,
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Http10,
    Http11,
}

/// `METHOD SP TARGET SP HTTP/1.x`. The method is `None` for a well-formed one the
/// server does not serve; that is answered once the head is whole (405), the rest at
/// once.
fn request_line(line: &[u8]) -> Result<(Option<Method>, &str, Version), Reject> {
    let bad = Reject::BadRequest("malformed request line");
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Reject::VersionNotSupported);
        }
        _ => return Err(bad),
    };
    // Origin form (`/metrics?x`), or the absolute form a proxy sends.
    let printable = target.iter().all(|&b| (0x21..0x7f).contains(&b));
    let form = target.starts_with(b"/") || target.starts_with(b"http://");
    if !printable || !form {
        return Err(Reject::BadRequest("malformed request target"));
    }
    let target = std::str::from_utf8(target).map_err(|_| bad)?;
    let method = match method {
        b"GET" => Some(Method::Get),
        b"HEAD" => Some(Method::Head),
        _ => None,
    };
    Ok((method, target, version))
}

fn path_of(target: &str) -> &str {
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    path.split(['?', '#']).next().unwrap_or("/")
}

/// `NAME: VALUE`, with no space before the colon and no folded continuation line.
fn header(line: &[u8]) -> Result<(&[u8], &[u8]), Reject> {
    let bad = Reject::BadRequest("malformed header line");
    let colon = line.iter().position(|&b| b == b':').ok_or(bad)?;
    let (name, rest) = line.split_at(colon);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    let value = rest.get(1..).unwrap_or_default().trim_ascii();
    // Visible characters, spaces, tabs and obs-text; no other control character.
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad);
    }
    Ok((name, value))
}

/// RFC 9110 `tchar`: what a method or header name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The lines of a head, each without its CRLF (or bare LF). A CR anywhere else makes
/// the head malformed.
struct Lines<'a> {
    buf: &'a [u8],
    /// Where the next line starts.
    at: usize,
}

impl<'a> Lines<'a> {
    /// The next whole line, `None` if it has not all arrived.
    fn next(&mut self) -> Result<Option<&'a [u8]>, Reject> {
        let rest = self.buf.get(self.at..).unwrap_or_default();
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            // A CR that is not followed by LF can show before the line is whole.
            let cr = rest.iter().position(|&b| b == b'\r');
            if cr.is_some_and(|i| i + 1 < rest.len()) {
                return Err(Reject::BadRequest("a CR not followed by LF"));
            }
            return Ok(None);
        };
        let line = rest.get(..lf).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return Err(Reject::BadRequest("a CR not followed by LF"));
        }
        self.at += lf + 1;
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests;
