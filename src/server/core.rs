//! How a face reaches the core: its own session on the database (and then it serves the others), or, when a
//! running moodtape holds the database, that one's session through its socket.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{socket_path, Client, Server};
use crate::service::{Answer, Call, Context, Progress, Session};
use crate::store::StoreError;

/// How long a command keeps trying when the database is held but its holder does not answer yet (it may be
/// just starting, or just closing).
const HANDOVER_WAIT: Duration = Duration::from_secs(5);

/// A face's way to the core.
pub enum Link {
    /// This process holds the database.
    Local(Arc<Session>),
    /// Another moodtape does; calls go through its socket.
    Remote(Client),
}

/// The link plus, for a local session, the server that lets other moodtapes in.
pub struct Core {
    pub link: Link,
    server: Option<Server>,
}

impl Core {
    /// Opens the database, or reaches the moodtape that holds it.
    pub fn open(ctx: &Context) -> anyhow::Result<Core> {
        Core::open_with(ctx, ctx.settings())
    }

    /// [`Core::open`] for the TUI: a database as moodtape left it is checked against its manifest in the
    /// background, so the first frame does not wait for every record to be read.
    pub fn open_interactive(ctx: &Context) -> anyhow::Result<Core> {
        let mut settings = ctx.settings();
        settings.verify_in_background = true;
        Core::open_with(ctx, settings)
    }

    fn open_with(ctx: &Context, settings: crate::service::Settings) -> anyhow::Result<Core> {
        let socket = socket_path(&ctx.paths.cache_dir, &ctx.db_path);
        let deadline = Instant::now() + HANDOVER_WAIT;
        loop {
            match Session::open(settings.clone()) {
                Ok(session) => {
                    let session = Arc::new(session);
                    let server = match Server::start(session.clone(), &socket) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::warn!(error = %e, socket = %socket.display(), "cannot serve other moodtapes");
                            None
                        }
                    };
                    return Ok(Core {
                        link: Link::Local(session),
                        server,
                    });
                }
                Err(e) if is_locked(&e) => match Client::connect(&socket) {
                    Ok(client) => {
                        return Ok(Core {
                            link: Link::Remote(client),
                            server: None,
                        })
                    }
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    Err(reach) => {
                        return Err(e.context(format!(
                            "the moodtape holding it does not answer on {} ({reach:#})",
                            socket.display()
                        )))
                    }
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// A core on a session this process holds (tests, and callers that opened it themselves).
    pub fn local(session: Arc<Session>) -> Core {
        Core {
            link: Link::Local(session),
            server: None,
        }
    }

    pub fn remote(client: Client) -> Core {
        Core {
            link: Link::Remote(client),
            server: None,
        }
    }

    pub fn session(&self) -> Option<&Arc<Session>> {
        match &self.link {
            Link::Local(s) => Some(s),
            Link::Remote(_) => None,
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.link, Link::Remote(_))
    }

    /// Where other moodtapes reach this one, when it serves.
    pub fn socket(&self) -> Option<&std::path::Path> {
        self.server.as_ref().map(Server::path)
    }

    pub fn call(
        &self,
        call: Call,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<Answer> {
        match &self.link {
            Link::Local(session) => session.call(call, progress, cancel),
            Link::Remote(client) => client.call(call, progress, cancel),
        }
    }

    /// Stops serving (calls in flight stop after their batch in hand and answer) and closes a local session.
    pub fn close(mut self, wait: Duration) {
        if let Link::Local(session) = &self.link {
            session
                .closing()
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(server) = self.server.take() {
            server.stop(wait);
        }
        if let Link::Local(session) = &self.link {
            session.close(wait);
        }
    }
}

fn is_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<StoreError>(),
            Some(StoreError::Locked { .. })
        )
    })
}
