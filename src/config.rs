//! Configuration: defaults compiled in, a TOML file that overrides single keys, and errors that name the file,
//! the key and the fix.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::emotion::device::{parse_device_name, DeviceName};
use crate::lyrics::fetch::FetchSettings;
use crate::lyrics::lrclib::LrclibSettings;
use crate::player::{MpdSettings, MpdTarget};
use crate::recommend::Weights;

/// The shipped default configuration, identical to [`Config::default`] (a test keeps them equal).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../data/config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("config file {path}: {message}\n  fix: correct or remove that key; `moodtape config default` prints every key with its default")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: key `{key}`: {problem}\n  fix: {fix}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
        fix: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub general: General,
    pub ui: Ui,
    pub lyrics: Lyrics,
    pub recommend: Recommend,
    pub scan: Scan,
    pub player: Player,
    pub mpd: Mpd,
    pub radio: Radio,
    pub backup: Backup,
    /// TUI key bindings that replace the built-in ones, action name to keys (`like = ["+", "ctrl-l"]`).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct General {
    pub device: String,
    pub model_dir: String,
    pub batch_size: usize,
}

impl Default for General {
    fn default() -> Self {
        General {
            device: "auto".into(),
            model_dir: String::new(),
            batch_size: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ui {
    pub theme: String,
    pub mouse: bool,
    pub max_fps: u32,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            theme: "default".into(),
            mouse: true,
            max_fps: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lyrics {
    pub online: bool,
    pub sources: Vec<String>,
    pub lrclib_url: String,
    pub connect_timeout_s: f64,
    pub timeout_s: f64,
    pub max_concurrency: usize,
    pub requests_per_second: f64,
    pub retries: u32,
    pub not_found_ttl_days: u32,
    /// Timeouts or 429s in a row after which a run stops asking the server.
    pub breaker_after: u32,
}

/// The lyrics sources moodtape knows, in their default order.
pub const LYRICS_SOURCES: [&str; 4] = ["sidecar", "tags", "cache", "lrclib"];

impl Default for Lyrics {
    fn default() -> Self {
        Lyrics {
            online: true,
            sources: LYRICS_SOURCES.iter().map(|s| s.to_string()).collect(),
            lrclib_url: "https://lrclib.net".into(),
            connect_timeout_s: 5.0,
            timeout_s: 15.0,
            max_concurrency: 4,
            requests_per_second: 4.0,
            retries: 3,
            not_found_ttl_days: 7,
            breaker_after: crate::lyrics::lrclib::DEFAULT_BREAKER_AFTER,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recommend {
    pub weight_emotion: f32,
    pub weight_va: f32,
    pub weight_lyrics: f32,
    pub limit: usize,
    pub journey_length: usize,
    pub feedback_strength: f32,
    /// Seconds `recommend` may spend looking up missing lyrics before it ranks (0: it does not look them up).
    pub prefetch_budget_s: f64,
}

impl Default for Recommend {
    fn default() -> Self {
        let w = Weights::DEFAULT;
        Recommend {
            weight_emotion: w.emotion,
            weight_va: w.va,
            weight_lyrics: w.lyrics,
            limit: 20,
            journey_length: 10,
            feedback_strength: w.feedback,
            prefetch_budget_s: 5.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Scan {
    pub follow_symlinks: bool,
}

impl Scan {
    pub fn options(&self) -> crate::library::scan::ScanOptions {
        crate::library::scan::ScanOptions {
            follow_symlinks: self.follow_symlinks,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Player {
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mpd {
    pub host: String,
    pub port: u16,
    pub password: String,
}

impl Default for Mpd {
    fn default() -> Self {
        let d = MpdSettings::default();
        Mpd {
            host: d.host,
            port: d.port,
            password: d.password,
        }
    }
}

/// The mood radio (`moodtape radio`, the TUI's radio key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Radio {
    /// A song skipped within 30 s while the radio plays counts as a mild dislike for the radio's mood.
    pub skip_is_dislike: bool,
    /// Songs the radio keeps in MPD's queue after the current one, unless `--ahead` says otherwise.
    pub ahead: usize,
}

impl Default for Radio {
    fn default() -> Self {
        Radio {
            skip_is_dislike: true,
            ahead: 5,
        }
    }
}

/// Rolling backups of the library, written after each session that changed songs, lyrics or feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backup {
    /// How many backups to keep per database (0: none are written).
    pub keep: usize,
}

impl Default for Backup {
    fn default() -> Self {
        Backup { keep: 3 }
    }
}

impl Lyrics {
    /// How the LRCLIB client talks to the server.
    pub fn lrclib_settings(&self) -> LrclibSettings {
        LrclibSettings {
            breaker_after: self.breaker_after,
            ..LrclibSettings::new(
                &self.lrclib_url,
                self.connect_timeout_s,
                self.timeout_s,
                self.retries,
                self.requests_per_second,
            )
        }
    }

    /// What a lyrics fetch needs; `offline` is the `--offline` flag.
    pub fn fetch_settings(&self, offline: bool) -> FetchSettings {
        FetchSettings {
            sources: self.sources.clone(),
            offline: offline || !self.online,
            lrclib: self.lrclib_settings(),
            jobs: self
                .max_concurrency
                .clamp(1, crate::lyrics::fetch::MAX_JOBS),
            not_found_ttl_days: self.not_found_ttl_days,
        }
    }
}

impl Recommend {
    /// The ranking blend (negative weights count as 0).
    pub fn weights(&self) -> Weights {
        Weights {
            emotion: self.weight_emotion.max(0.0),
            va: self.weight_va.max(0.0),
            lyrics: self.weight_lyrics.max(0.0),
            feedback: self.feedback_strength.max(0.0),
        }
    }

    /// How long `recommend` may look up missing lyrics first; `None` when it should not look them up.
    pub fn prefetch_budget(&self) -> Option<std::time::Duration> {
        (self.prefetch_budget_s.is_finite() && self.prefetch_budget_s > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.prefetch_budget_s.min(600.0)))
    }
}

impl Mpd {
    /// Where MPD is, as configured.
    pub fn settings(&self) -> MpdSettings {
        MpdSettings {
            host: self.host.clone(),
            port: self.port,
            password: self.password.clone(),
        }
    }

    /// Where MPD is: the config, overridden by `MPD_HOST` and `MPD_PORT` as mpc reads them.
    pub fn target(&self) -> MpdTarget {
        MpdTarget::resolve(
            &self.settings(),
            std::env::var("MPD_HOST").ok().as_deref(),
            std::env::var("MPD_PORT").ok().as_deref(),
            std::env::var_os("XDG_RUNTIME_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .as_deref(),
        )
    }
}

impl Config {
    /// Loads the file at `path`; a missing file at the default location means the defaults. `explicit` is set when
    /// the user named the file (flag or env), where a missing file is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        match crate::files::read_text_bounded(path, crate::files::MAX_CONFIG_BYTES, "a config") {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.is_not_found() && !explicit => Ok(Config::default()),
            Err(e) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
        }
    }

    /// Parses and validates TOML text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String, fix: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem,
            fix: fix.to_string(),
        };
        if parse_device_name(&self.general.device).is_none() {
            return Err(invalid(
                "general.device",
                format!("unknown device {:?}", self.general.device),
                "use \"auto\", \"cpu\", \"cuda\", \"cuda:N\" or \"metal\"",
            ));
        }
        let range = Ranges { invalid: &invalid };
        range.check("general.batch_size", self.general.batch_size, 1, 512)?;
        range.check("ui.max_fps", self.ui.max_fps, 1, 240)?;
        range.check("backup.keep", self.backup.keep, 0, 100)?;
        for source in &self.lyrics.sources {
            if !LYRICS_SOURCES.contains(&source.as_str()) {
                return Err(invalid(
                    "lyrics.sources",
                    format!("unknown source {source:?}"),
                    "list some of \"sidecar\", \"tags\", \"cache\", \"lrclib\"",
                ));
            }
        }
        if !(self.lyrics.lrclib_url.starts_with("http://")
            || self.lyrics.lrclib_url.starts_with("https://"))
        {
            return Err(invalid(
                "lyrics.lrclib_url",
                format!("{:?} is not an http(s) URL", self.lyrics.lrclib_url),
                "give the server's base URL, such as \"https://lrclib.net\"",
            ));
        }
        range.check("lyrics.timeout_s", self.lyrics.timeout_s, 0.5, 600.0)?;
        range.check(
            "lyrics.connect_timeout_s",
            self.lyrics.connect_timeout_s,
            0.5,
            120.0,
        )?;
        // Slower than one request in 50 s would leave a fetch waiting for hours; faster than 50 a second is abuse.
        range.check(
            "lyrics.requests_per_second",
            self.lyrics.requests_per_second,
            0.02,
            50.0,
        )?;
        range.check("lyrics.max_concurrency", self.lyrics.max_concurrency, 1, 32)?;
        range.check("lyrics.retries", self.lyrics.retries, 0, 10)?;
        range.check(
            "lyrics.not_found_ttl_days",
            self.lyrics.not_found_ttl_days,
            0,
            3650,
        )?;
        range.check("lyrics.breaker_after", self.lyrics.breaker_after, 1, 100)?;
        range.check(
            "recommend.prefetch_budget_s",
            self.recommend.prefetch_budget_s,
            0.0,
            600.0,
        )?;
        let weights = [
            ("recommend.weight_emotion", self.recommend.weight_emotion),
            ("recommend.weight_va", self.recommend.weight_va),
            ("recommend.weight_lyrics", self.recommend.weight_lyrics),
        ];
        for (key, value) in weights {
            range.check(key, value, 0.0, 100.0)?;
        }
        if weights.iter().map(|(_, w)| w).sum::<f32>() <= 0.0 {
            return Err(invalid(
                "recommend.weight_emotion",
                "all three weights are 0".into(),
                "give at least one weight a value above 0",
            ));
        }
        range.check(
            "recommend.feedback_strength",
            self.recommend.feedback_strength,
            0.0,
            0.5,
        )?;
        range.check("recommend.limit", self.recommend.limit, 1, MAX_LIMIT)?;
        range.check(
            "recommend.journey_length",
            self.recommend.journey_length,
            2,
            MAX_JOURNEY,
        )?;
        range.check("mpd.port", self.mpd.port, 1, u16::MAX)?;
        range.check("radio.ahead", self.radio.ahead, 1, MAX_RADIO_AHEAD)?;
        Ok(())
    }
}

/// The most songs one recommendation holds (and the bound of `--limit`).
pub const MAX_LIMIT: usize = 1000;
/// The most songs a mood radio keeps ahead (and the bound of `--ahead`).
pub const MAX_RADIO_AHEAD: usize = 50;
/// The longest journey (and the bound of `--limit` for journeys).
pub const MAX_JOURNEY: usize = 200;

/// Range checks that name the key, the value and the range.
struct Ranges<'a> {
    invalid: &'a dyn Fn(&str, String, &str) -> ConfigError,
}

impl Ranges<'_> {
    /// `value` must lie in `lo..=hi` (a NaN never does).
    fn check<T: PartialOrd + std::fmt::Debug>(
        &self,
        key: &str,
        value: T,
        lo: T,
        hi: T,
    ) -> Result<(), ConfigError> {
        if value >= lo && value <= hi {
            Ok(())
        } else {
            Err((self.invalid)(
                key,
                format!("{value:?} is out of range"),
                &format!("use a number from {lo:?} to {hi:?}"),
            ))
        }
    }
}

/// toml's message with the line number and the dotted key where it can be found.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_string();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line} (`{snippet}`): {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_file_equals_compiled_defaults() {
        let parsed = Config::parse(DEFAULT_CONFIG_TOML, Path::new("data/config.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn single_keys_override() {
        let c = Config::parse("[lyrics]\nonline = false\n", Path::new("c.toml")).unwrap();
        assert!(!c.lyrics.online);
        assert_eq!(c.recommend, Recommend::default());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::parse("[lyrics]\nonlin = false\n", Path::new("/x/c.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/x/c.toml"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("onlin"), "{text}");
        assert!(text.contains("fix:"), "{text}");
    }

    #[test]
    fn bad_values_name_key_and_fix() {
        let err = Config::parse("[general]\ndevice = \"tpu\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("general.device"));
        let err =
            Config::parse("[recommend]\nweight_va = -1.0\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("recommend.weight_va"));
        let err =
            Config::parse("[lyrics]\ntimeout_s = \"soon\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("timeout_s"), "{err}");
    }

    #[test]
    fn breaker_and_prefetch_budget_have_ranges() {
        for text in [
            "[lyrics]\nbreaker_after = 0\n",
            "[lyrics]\nbreaker_after = 101\n",
        ] {
            let err = Config::parse(text, Path::new("c.toml")).unwrap_err();
            assert!(err.to_string().contains("lyrics.breaker_after"), "{err}");
            assert!(err.to_string().contains("1 to 100"), "{err}");
        }
        for text in [
            "[recommend]\nprefetch_budget_s = -1\n",
            "[recommend]\nprefetch_budget_s = 601\n",
            "[recommend]\nprefetch_budget_s = nan\n",
        ] {
            let err = Config::parse(text, Path::new("c.toml")).unwrap_err();
            assert!(
                err.to_string().contains("recommend.prefetch_budget_s"),
                "{err}"
            );
        }
        let c = Config::parse(
            "[lyrics]\nbreaker_after = 5\n[recommend]\nprefetch_budget_s = 0\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.lyrics.lrclib_settings().breaker_after, 5);
        assert_eq!(c.recommend.prefetch_budget(), None);
        assert_eq!(
            Recommend::default().prefetch_budget(),
            Some(std::time::Duration::from_secs(5))
        );
    }
}
