//! The listening side: a thread that accepts connections on the database's socket, and a thread per
//! connection that reads one request, runs it on the session and writes the answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{ErrorReply, Reply, Request, HEARTBEAT, MAX_REQUEST, PROTOCOL};
use crate::service::Session;

/// How long a client may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long, and how much, a closing connection reads of what its client still sends.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;
/// How often the accept loop looks whether it should stop.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens at `path` for `session`. The caller holds the database, so a socket file already there was left
    /// by a moodtape that crashed: it is replaced.
    pub fn start(session: Arc<Session>, path: &Path) -> std::io::Result<Server> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
            // Only this user may reach the sockets; ignore folders we do not own (a shared XDG dir is the
            // user's own anyway).
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!(socket = %path.display(), "replaced a stale socket"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = bind_private(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let active = active.clone();
            std::thread::Builder::new()
                .name("moodtape-server".into())
                .spawn(move || accept_loop(&listener, &session, &stop, &active))?
        };
        tracing::info!(socket = %path.display(), "serving");
        Ok(Server {
            path: path.to_path_buf(),
            stop,
            active,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, removes the socket and waits up to `wait` for calls in flight to answer.
    pub fn stop(mut self, wait: Duration) {
        self.shutdown(wait);
    }

    fn shutdown(&mut self, wait: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
        let deadline = Instant::now() + wait;
        while self.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown(Duration::from_secs(2));
        }
    }
}

/// Binds with a umask that leaves the socket to its owner alone (mode 0600) from the first moment, not only
/// after a chmod.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    // SAFETY: umask only swaps the process's file mode mask; it is restored right after the bind.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn accept_loop(
    listener: &UnixListener,
    session: &Arc<Session>,
    stop: &Arc<AtomicBool>,
    active: &Arc<AtomicUsize>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let session = session.clone();
                let count = active.clone();
                let stopping = stop.clone();
                active.fetch_add(1, Ordering::SeqCst);
                let spawned = std::thread::Builder::new()
                    .name("moodtape-conn".into())
                    .spawn(move || {
                        serve_one(stream, &session, &stopping);
                        count.fetch_sub(1, Ordering::SeqCst);
                    });
                if let Err(e) = spawned {
                    active.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(error = %e, "cannot start a connection thread");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}

/// The uid of the process at the other end of the socket.
#[cfg(target_os = "linux")]
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is a live socket owned by `stream`; cred and len are valid for writes of their size.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(cred.uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The uid of the process at the other end of the socket.
#[cfg(all(unix, not(target_os = "linux")))]
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: the fd is a live socket; uid and gid are valid for writes.
    let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
    if rc == 0 {
        Ok(uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether a peer with `uid` may talk to a server running as `own`.
pub fn peer_allowed(uid: u32, own: u32) -> bool {
    uid == own
}

fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Reads the request line, giving up after [`REQUEST_TIMEOUT`] or when the server stops.
fn read_request(stream: &UnixStream, stop: &AtomicBool) -> std::io::Result<Option<Vec<u8>>> {
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut reader = BufReader::new(stream).take(MAX_REQUEST as u64 + 1);
    let mut line = Vec::new();
    let start = Instant::now();
    loop {
        match reader.read_until(b'\n', &mut line) {
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                return Ok(Some(line));
            }
            Ok(_) if line.len() > MAX_REQUEST => return Ok(None),
            // The end of the stream ends the request too.
            Ok(_) => return Ok(Some(line)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Err(std::io::Error::other("the server is stopping"));
                }
                if start.elapsed() >= REQUEST_TIMEOUT {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "timed out",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn serve_one(stream: UnixStream, session: &Session, stop: &AtomicBool) {
    let out = match stream.try_clone() {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(_) => return,
    };
    let send = |reply: &Reply| -> bool {
        let Ok(mut line) = serde_json::to_vec(reply) else {
            return false;
        };
        line.push(b'\n');
        let mut s = crate::service::lock_ignoring_poison(&out);
        s.write_all(&line).and_then(|_| s.flush()).is_ok()
    };
    let refuse = |message: String| {
        send(&Reply::Error(ErrorReply {
            message,
            causes: Vec::new(),
        }));
        linger(&stream);
    };
    match peer_uid(&stream) {
        Ok(uid) if peer_allowed(uid, own_uid()) => {}
        Ok(uid) => {
            tracing::warn!(uid, "refused a connection from another user");
            refuse(format!(
                "refused: this moodtape serves user {} only, not user {uid}",
                own_uid()
            ));
            return;
        }
        Err(e) => {
            refuse(format!("refused: cannot tell who is calling ({e})"));
            return;
        }
    }
    let request = match read_request(&stream, stop) {
        Ok(Some(line)) => line,
        Ok(None) => {
            refuse(format!(
                "request too large (at most {} bytes on one line)",
                MAX_REQUEST
            ));
            return;
        }
        Err(e) => {
            refuse(format!("no request received: {e}"));
            return;
        }
    };
    let request = match parse_request(&request) {
        Ok(r) => r,
        Err(message) => {
            refuse(message);
            return;
        }
    };
    let _ = stream.set_read_timeout(None);
    let cancel = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        // The heartbeat tells a waiting client the call is alive; a failed write means it hung up, and a session
        // that closes stops the call too (after the batch in hand).
        scope.spawn(|| {
            let mut last = Instant::now();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                if session.closing().load(Ordering::SeqCst) {
                    cancel.store(true, Ordering::SeqCst);
                }
                if last.elapsed() >= HEARTBEAT {
                    last = Instant::now();
                    let line = b"{\"alive\":true}\n";
                    let mut s = crate::service::lock_ignoring_poison(&out);
                    if s.write_all(line).and_then(|_| s.flush()).is_err() {
                        cancel.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
        let result = session.call(
            request.call,
            &mut |p| {
                if !send(&Reply::Progress(p)) {
                    cancel.store(true, Ordering::SeqCst);
                }
            },
            &cancel,
        );
        done.store(true, Ordering::SeqCst);
        result
    });
    match result {
        Ok(answer) => {
            send(&Reply::Ok(Box::new(answer)));
        }
        Err(e) => {
            send(&Reply::Error(ErrorReply::of(&e)));
        }
    }
    linger(&stream);
}

/// Closes our side, then reads what the client may still be sending (a request refused before it was read,
/// the rest of one too large), so closing does not reset the connection and lose the answer on its way.
fn linger(stream: &UnixStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER));
    let start = Instant::now();
    let mut sink = [0u8; 64 * 1024];
    let mut read = 0usize;
    let mut s = stream;
    while start.elapsed() < LINGER && read < LINGER_BYTES {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
}

/// A request line as JSON, of a version this build speaks.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("malformed request: not JSON ({e})"))?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL) => {}
        Some(v) => {
            return Err(format!(
                "this moodtape speaks protocol {PROTOCOL}, the request is version {v}; use the same moodtape version for both"
            ))
        }
        None => return Err("malformed request: no protocol version \"v\"".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("malformed request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        assert!(parse_request(br#"{"v":1,"call":{"call":"stats"}}"#).is_ok());
        let e = parse_request(b"hello").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = parse_request(br#"{"v":9,"call":{"call":"stats"}}"#).unwrap_err();
        assert!(e.contains("protocol 1"), "{e}");
        let e = parse_request(br#"{"call":{"call":"stats"}}"#).unwrap_err();
        assert!(e.contains("no protocol version"), "{e}");
        let e = parse_request(br#"{"v":1,"call":{"call":"format_disk"}}"#).unwrap_err();
        assert!(e.contains("malformed request"), "{e}");
    }

    #[test]
    fn request_lines_are_capped_and_stop_with_the_server() {
        let stop = AtomicBool::new(false);
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"abc\ndef").unwrap();
        assert_eq!(read_request(&b, &stop).unwrap(), Some(b"abc".to_vec()));
        let (mut a, b) = UnixStream::pair().unwrap();
        let big = vec![b'x'; MAX_REQUEST + 10];
        let writer = std::thread::spawn(move || {
            let _ = a.write_all(&big);
            a
        });
        assert_eq!(read_request(&b, &stop).unwrap(), None);
        drop(b);
        drop(writer.join());
        let (_a, b) = UnixStream::pair().unwrap();
        stop.store(true, Ordering::SeqCst);
        assert!(read_request(&b, &stop).is_err());
    }

    #[test]
    fn only_the_same_user_is_served() {
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(0, 1000));
        assert!(!peer_allowed(1001, 1000));
    }
}
