//! Where moodtape keeps things: XDG directories through `directories`, each overridable by an environment
//! variable so tests and unusual setups never touch a user's real files.

use std::path::PathBuf;

/// Resolved locations of config, data, cache and logs.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub state_dir: PathBuf,
}

pub const ENV_CONFIG: &str = "MOODTAPE_CONFIG";
pub const ENV_DATA: &str = "MOODTAPE_DATA";
pub const ENV_CACHE: &str = "MOODTAPE_CACHE";
pub const ENV_DB: &str = "MOODTAPE_DB";
pub const ENV_MODEL_DIR: &str = "MOODTAPE_MODEL_DIR";
pub const ENV_MODEL_CACHE: &str = "MOODTAPE_MODEL_CACHE";

impl Paths {
    /// The XDG locations, with `MOODTAPE_*` overrides; falls back to `./.moodtape` when no home is known.
    pub fn discover() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "moodtape");
        let fallback = PathBuf::from(".moodtape");
        let env_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let config_dir = dirs
            .as_ref()
            .map_or_else(|| fallback.join("config"), |d| d.config_dir().to_path_buf());
        let data_dir = env_path(ENV_DATA).unwrap_or_else(|| {
            dirs.as_ref()
                .map_or_else(|| fallback.join("data"), |d| d.data_dir().to_path_buf())
        });
        let cache_dir = env_path(ENV_CACHE).unwrap_or_else(|| {
            dirs.as_ref()
                .map_or_else(|| fallback.join("cache"), |d| d.cache_dir().to_path_buf())
        });
        let state_dir = dirs
            .as_ref()
            .and_then(|d| d.state_dir().map(|p| p.to_path_buf()))
            .unwrap_or_else(|| data_dir.join("state"));
        let config_file = env_path(ENV_CONFIG).unwrap_or_else(|| config_dir.join("config.toml"));
        Paths {
            config_file,
            config_dir,
            data_dir,
            cache_dir,
            state_dir,
        }
    }

    /// The user's own library database.
    pub fn default_db(&self) -> PathBuf {
        std::env::var_os(ENV_DB)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.data_dir.join("library.db"))
    }

    /// The demo library's database, kept apart so the demo never touches the user's library.
    pub fn demo_db(&self) -> PathBuf {
        self.cache_dir.join("demo.db")
    }

    /// Where fetched model files are cached.
    pub fn model_cache(&self) -> PathBuf {
        std::env::var_os(ENV_MODEL_CACHE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.cache_dir.join("models"))
    }

    /// The log file written by `tracing`.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.clone()
    }
}
