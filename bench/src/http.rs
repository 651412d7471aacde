//! A minimal HTTP/1.1 client on `tokio::net::TcpStream`, chunked bodies decoded: [`request`]
//! sends one request per connection (`Connection: close`) and times the moment the response
//! head arrived (the load tools' setup and triggers); [`KeepAlive`] sends many on one
//! connection (the booking surge).

use std::time::Instant;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub struct Response {
    pub status: u16,
    head: String,
    pub body: Vec<u8>,
    /// When the whole response head had been read.
    pub head_at: Instant,
}

impl Response {
    /// All values of header `name` (case-insensitive).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.lines().skip(1).filter_map(move |line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `name=value` of the first `Set-Cookie`.
    pub fn cookie(&self) -> Option<String> {
        self.headers("set-cookie").next().and_then(|c| c.split(';').next()).map(str::to_owned)
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status code and head length of a complete response head at the start of `raw`.
pub fn parse_head(raw: &[u8]) -> Option<(u16, usize)> {
    let end = find(raw, b"\r\n\r\n")? + 4;
    let status = std::str::from_utf8(&raw[..end]).ok()?.split(' ').nth(1)?.parse().ok()?;
    Some((status, end))
}

/// Moves every complete chunk of a chunked body from the front of `raw` into `out`; returns
/// false once the last (empty) chunk has been seen.
pub fn take_chunks(raw: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    let mut at = 0;
    let mut open = true;
    while let Some(line_end) = find(&raw[at..], b"\r\n") {
        let size_text = std::str::from_utf8(&raw[at..at + line_end]).unwrap_or("");
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        let data = at + line_end + 2;
        if raw.len() < data + size + 2 {
            break;
        }
        out.extend_from_slice(&raw[data..data + size]);
        at = data + size + 2;
        if size == 0 {
            open = false;
            break;
        }
    }
    raw.drain(..at);
    open
}

pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&").into_bytes()
}

/// Sends one request and reads the whole response.
pub async fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Result<Response, String> {
    let what = format!("{method} {path}");
    let mut socket = TcpStream::connect(address).await.map_err(|e| format!("{what}: connect: {e}"))?;
    socket.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = match body {
        Some((content_type, bytes)) => {
            text.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()));
            bytes
        }
        None => &[][..],
    };
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    socket.write_all(&bytes).await.map_err(|e| format!("{what}: send: {e}"))?;
    let mut raw = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut head: Option<(u16, usize, Instant)> = None;
    loop {
        let n = socket.read(&mut buffer).await.map_err(|e| format!("{what}: read: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buffer[..n]);
        if head.is_none() {
            head = parse_head(&raw).map(|(status, end)| (status, end, Instant::now()));
        }
    }
    let (status, end, head_at) = head.ok_or(format!("{what}: no response head"))?;
    let head_text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut rest = raw.split_off(end);
    let chunked = head_text
        .lines()
        .any(|l| l.split_once(':').is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")));
    let body = if chunked {
        let mut out = Vec::new();
        take_chunks(&mut rest, &mut out);
        out
    } else {
        rest
    };
    Ok(Response { status, head: head_text, body, head_at })
}

/// One kept-alive HTTP/1.1 connection: requests one after another, each response read to the
/// end of its body (`Content-Length` or chunked), so the next request can follow on the same
/// socket. Reconnects when the server closed the connection. Cheaper per request than a
/// general client: the load tool shares two cores with the server it measures.
pub struct KeepAlive {
    address: String,
    socket: Option<TcpStream>,
    raw: Vec<u8>,
}

impl KeepAlive {
    pub fn new(address: &str) -> Self {
        Self { address: address.to_owned(), socket: None, raw: Vec::with_capacity(16 * 1024) }
    }

    /// Sends a request (a JSON body if given) and returns the status and body.
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], json: Option<&[u8]>) -> Result<(u16, Vec<u8>), String> {
        let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = json {
            text.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(json.unwrap_or_default());
        // A kept-alive socket the server has closed fails on the first write or read: one retry
        // on a fresh connection (our requests carry idempotency keys where a repeat matters).
        let reused = self.socket.is_some();
        match self.exchange(&bytes).await {
            Err(_) if reused => self.exchange(&bytes).await,
            answer => answer,
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>), String> {
        if self.socket.is_none() {
            let socket = TcpStream::connect(&self.address).await.map_err(|e| format!("connect: {e}"))?;
            socket.set_nodelay(true).map_err(|e| e.to_string())?;
            self.socket = Some(socket);
            self.raw.clear();
        }
        let result = self.exchange_on_socket(request).await;
        if result.is_err() {
            self.socket = None;
        }
        result
    }

    async fn exchange_on_socket(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let socket = self.socket.as_mut().ok_or("no socket")?;
        socket.write_all(request).await.map_err(|e| format!("send: {e}"))?;
        let mut buffer = [0u8; 16 * 1024];
        let (status, head_end) = loop {
            if let Some(head) = parse_head(&self.raw) {
                break head;
            }
            let n = socket.read(&mut buffer).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed before the response".into());
            }
            self.raw.extend_from_slice(&buffer[..n]);
        };
        let head = String::from_utf8_lossy(&self.raw[..head_end]).to_ascii_lowercase();
        let header = |name: &str| head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_owned()));
        let close = header("connection").is_some_and(|v| v == "close");
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            self.raw.drain(..head_end);
            let mut body = Vec::new();
            while take_chunks(&mut self.raw, &mut body) {
                let n = socket.read(&mut buffer).await.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed inside a chunked body".into());
                }
                self.raw.extend_from_slice(&buffer[..n]);
            }
            body
        } else {
            let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while self.raw.len() < head_end + length {
                let n = socket.read(&mut buffer).await.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed inside a body".into());
                }
                self.raw.extend_from_slice(&buffer[..n]);
            }
            let body = self.raw[head_end..head_end + length].to_vec();
            self.raw.drain(..head_end + length);
            body
        };
        if close {
            self.socket = None;
        }
        Ok((status, body))
    }
}
