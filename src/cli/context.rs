//! The shared context of a run: paths, configuration, the database location and global flags.

use std::path::PathBuf;

use anyhow::Context as _;

use super::GlobalArgs;
use crate::config::{parse_device_name, Config, DeviceName};
use crate::paths::Paths;
use crate::store::Store;

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

impl Context {
    pub fn new(args: &GlobalArgs) -> anyhow::Result<Context> {
        let paths = Paths::discover();
        let explicit =
            args.config.is_some() || std::env::var_os(crate::paths::ENV_CONFIG).is_some();
        let config_path = args
            .config
            .clone()
            .unwrap_or_else(|| paths.config_file.clone());
        let config = Config::load(&config_path, explicit)?;
        let db_path = match (&args.db, args.demo) {
            (Some(db), _) => db.clone(),
            (None, true) => paths.demo_db(),
            (None, false) => paths.default_db(),
        };
        let device_text = args
            .device
            .clone()
            .unwrap_or_else(|| config.general.device.clone());
        let device = parse_device_name(&device_text).with_context(|| {
            format!("unknown device {device_text:?}; use auto, cpu, cuda, cuda:N or metal")
        })?;
        let model_dir = args
            .model_dir
            .clone()
            .or_else(|| std::env::var_os(crate::paths::ENV_MODEL_DIR).map(PathBuf::from))
            .or_else(|| {
                (!config.general.model_dir.is_empty())
                    .then(|| PathBuf::from(&config.general.model_dir))
            });
        Ok(Context {
            offline: args.offline || !config.lyrics.online,
            theme: args
                .theme
                .clone()
                .unwrap_or_else(|| config.ui.theme.clone()),
            paths,
            config,
            config_path,
            db_path,
            demo: args.demo,
            device,
            model_dir,
        })
    }

    /// Opens the database; with `--demo` the demo songs are loaded into it first.
    pub fn open_store(&self) -> anyhow::Result<Store> {
        let store = Store::open(&self.db_path)?;
        if self.demo {
            crate::library::demo::load_demo(&store)?;
        }
        Ok(store)
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
