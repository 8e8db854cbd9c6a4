//! The calling side: sends one call to the moodtape serving a database and reads its answer, passing progress
//! on as it comes.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::{idle_timeout, Reply, Request, PROTOCOL};
use crate::service::{Answer, Call, Event, Hello, Progress};

/// Answers can be large (a whole library), but never this large.
const MAX_REPLY_LINE: usize = 1 << 30;

#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
    /// Who answered the first call.
    pub hello: Hello,
}

impl Client {
    /// Connects to the socket at `path` and greets the server. Fails when nobody listens there.
    pub fn connect(path: &Path) -> anyhow::Result<Client> {
        let mut client = Client {
            path: path.to_path_buf(),
            hello: Hello {
                version: String::new(),
                pid: 0,
                database: String::new(),
            },
        };
        match client.call(Call::Hello, &mut |_| {}, &AtomicBool::new(false))? {
            Answer::Hello(hello) => client.hello = hello,
            other => return Err(other.unexpected("hello").into()),
        }
        Ok(client)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn who(&self) -> String {
        if self.hello.pid > 0 {
            format!(
                "the moodtape serving {} (pid {})",
                self.hello.database, self.hello.pid
            )
        } else {
            format!("the moodtape at {}", self.path.display())
        }
    }

    /// Runs `call` on the server. Setting `cancel` hangs up, which cancels the call there.
    pub fn call(
        &self,
        call: Call,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<Answer> {
        let mut stream = UnixStream::connect(&self.path)
            .with_context(|| format!("cannot reach {}", self.who()))?;
        let timeout = idle_timeout();
        stream.set_read_timeout(Some(timeout.min(Duration::from_millis(250))))?;
        let mut line = serde_json::to_vec(&Request { v: PROTOCOL, call })?;
        line.push(b'\n');
        stream
            .write_all(&line)
            .and_then(|_| stream.flush())
            .with_context(|| format!("cannot send the request to {}", self.who()))?;
        let mut reader = BufReader::new(&stream);
        let mut quiet = Duration::ZERO;
        // Kept across read timeouts: a long line may arrive in pieces.
        let mut pending: Vec<u8> = Vec::new();
        loop {
            if cancel.load(Ordering::Relaxed) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                bail!("cancelled");
            }
            let read = std::io::BufRead::read_until(&mut reader, b'\n', &mut pending);
            if pending.len() > MAX_REPLY_LINE {
                bail!("{} sent an answer too large to read", self.who());
            }
            match read {
                Ok(0) => bail!("{} stopped before answering; try again", self.who()),
                Ok(_) if pending.last() != Some(&b'\n') => {
                    bail!("{} stopped before answering; try again", self.who())
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    quiet += Duration::from_millis(250);
                    if quiet >= timeout {
                        bail!(
                            "{} did not answer in {} s; it may be stuck (restart it, or stop it to use the database directly)",
                            self.who(),
                            timeout.as_secs()
                        );
                    }
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("lost the connection to {}", self.who()))
                }
            }
            let line = std::mem::take(&mut pending);
            quiet = Duration::ZERO;
            let reply: Reply = serde_json::from_slice(&line)
                .with_context(|| format!("{} sent something unreadable", self.who()))?;
            match reply {
                Reply::Alive(_) => {}
                Reply::Progress(p) => progress(p),
                Reply::Ok(answer) => return Ok(*answer),
                Reply::Error(e) => return Err(e.into_error()),
            }
        }
    }

    /// The server's events from now on, on a thread of their own; the stream ends when the server goes away
    /// or the receiver is dropped.
    pub fn watch(&self) -> Receiver<Event> {
        let (tx, rx) = std::sync::mpsc::channel();
        let client = self.clone();
        let spawned = std::thread::Builder::new()
            .name("moodtape-watch".into())
            .spawn(move || {
                let cancel = AtomicBool::new(false);
                let _ = client.call(
                    Call::Watch,
                    &mut |p| {
                        if let Progress::Event(ev) = p {
                            if tx.send(ev).is_err() {
                                cancel.store(true, Ordering::Relaxed);
                            }
                        }
                    },
                    &cancel,
                );
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch the server");
        }
        rx
    }
}
