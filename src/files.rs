//! Files moodtape writes for the user and files it reads from places the user (or anyone) controls. Writes go
//! through one safe path: a temp file created exclusively beside the target, never following a link at the
//! target or the temp name, renamed over the target only when complete and removed on failure. Reads of small
//! files (configs, themes, lyrics sidecars) are bounded in size and limited to regular files, so `/dev/zero`, a
//! FIFO or a link into `/proc` can neither exhaust memory nor hang a command.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Configs and themes are a few kilobytes; anything past this is not one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Lyrics sidecars: a long song's LRC is tens of kilobytes.
pub const MAX_SIDECAR_BYTES: u64 = 4 << 20;

/// Why a file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path} is {kind}, not a regular file; moodtape does not write over or through it: choose another path")]
    NotRegularTarget { path: String, kind: &'static str },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {limit} bytes; it cannot be {what}")]
    TooLarge {
        path: String,
        limit: u64,
        what: &'static str,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// Whether the file was simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

fn shown(path: &Path) -> String {
    crate::sanitize::clean_line(&path.display().to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: shown(path),
        source,
    }
}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Writes the file at `path` through `fill`, safely: the target must be absent or a regular file (a link, a
/// device or a folder there is refused), the bytes go to a new temp file in the same folder (created
/// exclusively, so a planted file or link at the temp name is never followed), are synced, and replace the
/// target in one rename. On any failure — `fill`'s own error, returned as it is, or one of the file's — the temp
/// file is removed and the target is as it was. Returns what `fill` returned.
pub fn write_atomic<T, E: From<FileError>>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let previous = match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(FileError::NotRegularTarget {
                path: shown(path),
                kind: kind_of(&meta.file_type()),
            }
            .into());
        }
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path)(e).into()),
    };
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            parent.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let (tmp, file) = create_temp(&dir, &name)?;
    let mut out = std::io::BufWriter::new(&file);
    let filled = match fill(&mut out) {
        Ok(value) => value,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let finished = (|| {
        out.flush()?;
        drop(out);
        // A replaced file keeps its permissions; a new one gets the usual ones (the umask applies).
        if let Some(perms) = previous {
            file.set_permissions(perms)?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    match finished {
        Ok(()) => {
            sync_dir(&dir);
            Ok(filled)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io(path)(e).into())
        }
    }
}

/// Writes `bytes` at `path` with [`write_atomic`].
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic(path, |out| out.write_all(bytes).map_err(io(path)))
}

/// A new file `.NAME.<random>.tmp` in `dir`, created with `O_EXCL` and `O_NOFOLLOW`.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File), FileError> {
    let mut last = None;
    for _ in 0..16 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o666).custom_flags(libc::O_NOFOLLOW);
        }
        match opts.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io(&tmp)(e)),
        }
    }
    Err(io(dir)(last.unwrap_or_else(|| {
        std::io::Error::other("cannot create a temp file")
    })))
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// How [`open_regular`] treats a link at the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

/// Opens a regular file for reading without ever blocking on a FIFO (opened non-blocking, then checked) and,
/// with [`Links::Refuse`], without following a link at the path.
pub fn open_regular(path: &Path, links: Links) -> Result<File, FileError> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        opts.custom_flags(flags);
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        // O_NOFOLLOW on a link fails with ELOOP.
        #[cfg(unix)]
        Err(e) if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(FileError::NotRegular {
                path: shown(path),
                kind: "a symbolic link",
            });
        }
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            path: shown(path),
            kind: kind_of(&meta.file_type()),
        });
    }
    #[cfg(unix)]
    {
        // Back to blocking reads now that it is known to be a regular file.
        use std::os::unix::io::AsRawFd;
        // SAFETY: fcntl on a descriptor this function owns; only the O_NONBLOCK flag changes.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok(file)
}

/// Reads a regular file of at most `limit` bytes (the size is checked as read, not trusted from metadata, so
/// `/proc` files and growing files are bounded too). `what` says what the file was for, in the error.
pub fn read_bounded(
    path: &Path,
    limit: u64,
    links: Links,
    what: &'static str,
) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path, links)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: shown(path),
            limit,
            what,
        });
    }
    Ok(bytes)
}

/// [`read_bounded`] for UTF-8 text such as configs and themes.
pub fn read_text_bounded(path: &Path, limit: u64, what: &'static str) -> Result<String, FileError> {
    let bytes = read_bounded(path, limit, Links::Follow, what)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: shown(path),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text; save it as UTF-8",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_regular_files_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("list.m3u8");
        write_bytes(&target, b"one").unwrap();
        write_bytes(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let failed = write_atomic(&target, |_| {
            Err::<(), _>(FileError::Io {
                path: "x".into(),
                source: std::io::Error::other("disk full"),
            })
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files left behind");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_devices_at_the_target_are_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("out.m3u8");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = write_bytes(&link, b"evil").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let e = write_bytes(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(e.to_string().contains("device"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn bounded_reads_refuse_devices_fifos_links_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(Path::new("/dev/zero"), 10, Links::Follow, "read").unwrap_err();
        assert!(e.to_string().contains("device"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, 10, Links::Follow, "read").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 11]).unwrap();
        let e = read_bounded(&big, 10, Links::Follow, "read").unwrap_err();
        assert!(matches!(e, FileError::TooLarge { .. }), "{e}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert!(read_bounded(&link, 10, Links::Refuse, "read")
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        assert_eq!(
            read_bounded(&link, 20, Links::Follow, "read")
                .unwrap()
                .len(),
            11
        );
    }
}
