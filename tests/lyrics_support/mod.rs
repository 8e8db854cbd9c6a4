//! A small real HTTP/1.1 server on 127.0.0.1 for the lyrics tests: each test gives it a handler, and it records
//! every request and how many were in flight at once. Also an LRCLIB look-alike handler.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    /// When the request arrived: tests time the client by the gaps between requests, never around a process.
    pub at: std::time::Instant,
}

impl Req {
    pub fn q(&self, key: &str) -> &str {
        self.query.get(key).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Send no Content-Length: the body ends when the connection closes.
    pub no_length: bool,
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::raw(status, value.to_string().into_bytes())
    }

    pub fn raw(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
            delay: Duration::ZERO,
            no_length: false,
        }
    }

    pub fn header(mut self, key: &str, value: &str) -> Reply {
        self.headers.push((key.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn without_length(mut self) -> Reply {
        self.no_length = true;
        self
    }

    /// LRCLIB's own 404 body.
    pub fn not_found() -> Reply {
        Reply::json(
            404,
            &json!({"code": 404, "name": "TrackNotFound", "message": "Failed to find specified track"}),
        )
    }
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

pub struct Server {
    pub url: String,
    log: Arc<Mutex<Vec<Req>>>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Server {
    /// Starts serving; `handler` gets each request and its 0-based number.
    pub fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Server {
        Server::start_on("127.0.0.1", handler)
    }

    /// Starts serving on another loopback address (`127.0.0.2`), a different host for the client.
    pub fn start_on(
        ip: &str,
        handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (log, max_in_flight) = (log.clone(), max_in_flight.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (log, handler, in_flight, max_in_flight) = (
                        log.clone(),
                        handler.clone(),
                        in_flight.clone(),
                        max_in_flight.clone(),
                    );
                    std::thread::spawn(move || {
                        serve(stream, &log, &*handler, &in_flight, &max_in_flight);
                    });
                }
            });
        }
        Server {
            url,
            log,
            max_in_flight,
        }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// The gaps between consecutive requests, in arrival order.
    pub fn gaps(&self) -> Vec<Duration> {
        let mut at: Vec<std::time::Instant> = self.requests().iter().map(|r| r.at).collect();
        at.sort();
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Serves one request. A request counts as in flight from the moment it has been read until its answer starts
/// going out: the client sees the answer only after that, so it can never have started its next request while
/// this one still counts (counting the whole connection would include its teardown, a race with the client).
fn serve(
    stream: TcpStream,
    log: &Mutex<Vec<Req>>,
    handler: &Handler,
    in_flight: &AtomicUsize,
    max_in_flight: &AtomicUsize,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), HashMap::new()),
    };
    let req = Req {
        path,
        query,
        headers,
        at: std::time::Instant::now(),
    };
    let number = {
        let mut log = log.lock().unwrap();
        log.push(req.clone());
        log.len() - 1
    };
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = handler(&req, number);
    std::thread::sleep(reply.delay);
    in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut head = format!(
        "HTTP/1.1 {} Whatever\r\nConnection: close\r\n",
        reply.status
    );
    if !reply.no_length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    // The client may hang up early (a body over its cap, a timeout); that is part of the tests.
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An LRCLIB record.
pub fn track(
    id: u64,
    artist: &str,
    title: &str,
    album: &str,
    duration: f64,
    plain: Option<&str>,
    synced: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "name": title,
        "trackName": title,
        "artistName": artist,
        "albumName": album,
        "duration": duration,
        "instrumental": false,
        "plainLyrics": plain,
        "syncedLyrics": synced,
    })
}

pub fn instrumental(id: u64, artist: &str, title: &str, duration: f64) -> Value {
    let mut t = track(id, artist, title, "", duration, None, None);
    t["instrumental"] = json!(true);
    t
}

fn fold(s: &str) -> String {
    moodtape::records::normalize_name(s)
}

/// Serves `tracks` the way LRCLIB does: `/api/get` wants the exact names (case aside), the album and a duration
/// within 2 s; `/api/search` is loose and returns every track whose title contains the query's words.
pub fn lrclib(tracks: Vec<Value>) -> impl Fn(&Req, usize) -> Reply + Send + Sync + 'static {
    move |req: &Req, _| match req.path.as_str() {
        "/api/get" => {
            let duration: f64 = req.q("duration").parse().unwrap_or(-100.0);
            let hit = tracks.iter().find(|t| {
                t["trackName"].as_str().unwrap().to_lowercase()
                    == req.q("track_name").to_lowercase()
                    && t["artistName"].as_str().unwrap().to_lowercase()
                        == req.q("artist_name").to_lowercase()
                    && t["albumName"].as_str().unwrap().to_lowercase()
                        == req.q("album_name").to_lowercase()
                    && (t["duration"].as_f64().unwrap() - duration).abs() <= 2.0
            });
            match hit {
                Some(t) => Reply::json(200, t),
                None => Reply::not_found(),
            }
        }
        "/api/search" => {
            let wanted = if req.q("q").is_empty() {
                fold(req.q("track_name"))
            } else {
                fold(req.q("q"))
            };
            let hits: Vec<&Value> = tracks
                .iter()
                .filter(|t| {
                    let name = fold(t["trackName"].as_str().unwrap());
                    wanted.split(' ').all(|w| name.contains(w))
                })
                .collect();
            Reply::json(200, &json!(hits))
        }
        _ => Reply::json(404, &json!({"statusCode": 404, "error": "Not Found"})),
    }
}
