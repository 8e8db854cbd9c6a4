//! The run's context: paths, the configuration and the global flags, and the settings every domain module is
//! built from. This is the edge where the configuration becomes each module's own settings struct.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::{parse_device_name, Config, DeviceName};
use crate::emotion::fetch::FetchOptions;
use crate::emotion::EngineOptions;
use crate::lyrics::FetchSettings;
use crate::paths::Paths;
use crate::player::MpdTarget;
use crate::recommend::Weights;

/// The global command-line flags, as every face reads them.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub demo: bool,
    pub db: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub offline: bool,
    pub device: Option<String>,
    pub precision: Option<crate::emotion::Precision>,
    pub model_dir: Option<PathBuf>,
    pub theme: Option<String>,
}

pub struct Context {
    pub paths: Paths,
    pub config: Config,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    pub demo: bool,
    pub offline: bool,
    pub device: DeviceName,
    pub model_dir: Option<PathBuf>,
    pub theme: String,
}

/// What a session needs, built from the context: one settings struct per domain module.
#[derive(Debug, Clone)]
pub struct Settings {
    pub db_path: PathBuf,
    /// The demo library: its songs are loaded into the database when it opens.
    pub demo: bool,
    pub engine: EngineOptions,
    pub lyrics: FetchSettings,
    /// Missing lyrics are looked up online before recommending and in the background (not for the demo, not
    /// offline).
    pub lyrics_online: bool,
    pub weights: Weights,
    /// Songs in a recommendation unless asked otherwise (config `recommend.limit`).
    pub limit: usize,
    /// Songs in a journey unless asked otherwise (config `recommend.journey_length`).
    pub journey_length: usize,
    /// How long `recommend` may look up missing lyrics first (config `recommend.prefetch_budget_s`); `None`:
    /// not at all.
    pub prefetch_budget: Option<std::time::Duration>,
    pub mpd: MpdTarget,
    /// A song skipped within 30 s while the radio plays counts as a mild dislike (config `radio.skip_is_dislike`).
    pub radio_skip_is_dislike: bool,
    /// Songs the radio keeps ahead unless asked otherwise (config `radio.ahead`).
    pub radio_ahead: usize,
    /// Where exported playlists go.
    pub playlists_dir: PathBuf,
    pub scan: crate::library::scan::ScanOptions,
    /// Where rolling backups of this database go and how many are kept (`None`: none, as for the demo).
    pub backups: Option<(PathBuf, usize)>,
    /// The records are counted against the manifest after opening, on a thread of their own, when the files are
    /// as moodtape left them (the TUI: its first frame does not wait for a read of the whole database).
    pub verify_in_background: bool,
}

impl Context {
    pub fn new(flags: &Flags) -> anyhow::Result<Context> {
        let paths = Paths::discover();
        let explicit =
            flags.config.is_some() || std::env::var_os(crate::paths::ENV_CONFIG).is_some();
        let config_path = flags
            .config
            .clone()
            .unwrap_or_else(|| paths.config_file.clone());
        let config = Config::load(&config_path, explicit)?;
        let db_path = match (&flags.db, flags.demo) {
            (Some(db), _) => db.clone(),
            (None, true) => paths.demo_db(),
            (None, false) => paths.default_db(),
        };
        let device_text = flags
            .device
            .clone()
            .unwrap_or_else(|| config.general.device.clone());
        let device = parse_device_name(&device_text).with_context(|| {
            format!("unknown device {device_text:?}; use auto, cpu, cuda, cuda:N or metal")
        })?;
        let precision = flags.precision.unwrap_or_else(|| {
            crate::emotion::Precision::parse(&config.general.precision).unwrap_or_default()
        });
        crate::emotion::set_precision(precision);
        let model_dir = flags
            .model_dir
            .clone()
            .or_else(|| std::env::var_os(crate::paths::ENV_MODEL_DIR).map(PathBuf::from))
            .or_else(|| {
                (!config.general.model_dir.is_empty())
                    .then(|| PathBuf::from(&config.general.model_dir))
            });
        Ok(Context {
            offline: flags.offline || !config.lyrics.online,
            theme: flags
                .theme
                .clone()
                .unwrap_or_else(|| config.ui.theme.clone()),
            paths,
            config,
            config_path,
            db_path,
            demo: flags.demo,
            device,
            model_dir,
        })
    }

    /// How to find and run the model; `verbose` lets the fetch say what it does on stderr.
    pub fn engine_options(&self, verbose: bool) -> EngineOptions {
        EngineOptions {
            fetch: FetchOptions {
                model_dir: self.model_dir.clone(),
                cache_dir: self.paths.model_cache(),
                offline: self.offline,
                verbose,
            },
            device: self.device,
            precision: crate::emotion::precision(),
            batch_size: self.config.general.batch_size,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            db_path: self.db_path.clone(),
            demo: self.demo,
            engine: self.engine_options(false),
            lyrics: self.config.lyrics.fetch_settings(self.offline),
            lyrics_online: !self.demo && !self.offline,
            weights: self.config.recommend.weights(),
            limit: self.config.recommend.limit,
            journey_length: self.config.recommend.journey_length,
            prefetch_budget: self.config.recommend.prefetch_budget(),
            mpd: self.config.mpd.target(),
            radio_skip_is_dislike: self.config.radio.skip_is_dislike,
            radio_ahead: self.config.radio.ahead,
            playlists_dir: self.paths.data_dir.join("playlists"),
            scan: self.config.scan.options(),
            backups: (!self.demo && self.config.backup.keep > 0)
                .then(|| (self.backup_dir(), self.config.backup.keep)),
            verify_in_background: false,
        }
    }

    /// The folder of this database's rolling backups: the data dir's `backups/`, one folder per database.
    pub fn backup_dir(&self) -> PathBuf {
        crate::store::backup_dir(&self.paths.data_dir.join("backups"), &self.db_path)
    }

    /// Logs go to a file in the state dir, never to the terminal. Returns the guard that flushes the log.
    pub fn init_logging(&self) -> Option<tracing_appender::non_blocking::WorkerGuard> {
        let dir = self.paths.log_dir();
        std::fs::create_dir_all(&dir).ok()?;
        let appender = tracing_appender::rolling::never(&dir, "moodtape.log");
        let (writer, guard) = tracing_appender::non_blocking(appender);
        let filter = tracing_subscriber::EnvFilter::try_from_env("MOODTAPE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("moodtape=info"));
        tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_env_filter(filter)
            .try_init()
            .ok()?;
        Some(guard)
    }
}
