//! The datasets the heads are trained and evaluated on: GoEmotions (28 labels, multi-label), EmoBank
//! (valence/arousal on a 1-5 scale) and MusicMood (song lyrics read as happy or sad), read from the folders given
//! on the command line and never shipped; and moodtape's own short moods (`data/moods/short_moods.tsv`, compiled
//! in). MusicMood comes as one file, so its train/dev split is made here, the same for training and evaluation.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::records::{Quadrant, LABELS};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {reason}")]
    Bad {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("unknown split {0:?}; use train, dev or test")]
    Split(String),
    #[error(
        "MusicMood has no {0:?} split here; use train or dev (a test set is scored elsewhere)"
    )]
    MusicMoodSplit(String),
}

/// A GoEmotions example: the text and its label ids.
#[derive(Debug, Clone)]
pub struct GoExample {
    pub text: String,
    pub labels: Vec<usize>,
}

/// An EmoBank example: the text and valence/arousal mapped to -1..1 around the neutral 3.0.
#[derive(Debug, Clone)]
pub struct VaExample {
    pub text: String,
    pub valence: f32,
    pub arousal: f32,
}

fn check_split(split: &str) -> Result<(), DataError> {
    match split {
        "train" | "dev" | "test" => Ok(()),
        other => Err(DataError::Split(other.to_string())),
    }
}

/// Reads `DIR/{split}.tsv` (text, comma-separated label ids, id).
pub fn goemotions(dir: &Path, split: &str) -> Result<Vec<GoExample>, DataError> {
    check_split(split)?;
    let path = dir.join(format!("{split}.tsv"));
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: &str| DataError::Bad {
            path: path.display().to_string(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let mut cols = line.split('\t');
        let text = cols.next().ok_or_else(|| bad("no text"))?;
        let labels = cols.next().ok_or_else(|| bad("no labels"))?;
        let labels: Vec<usize> = labels
            .split(',')
            .map(|l| l.trim().parse::<usize>().ok().filter(|&n| n < LABELS.len()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("labels are not ids 0-27"))?;
        out.push(GoExample {
            text: text.to_string(),
            labels,
        });
    }
    Ok(out)
}

/// Reads `DIR/emobank.csv` (id, split, V, A, D, text) and keeps one split.
pub fn emobank(dir: &Path, split: &str) -> Result<Vec<VaExample>, DataError> {
    check_split(split)?;
    let path = dir.join("emobank.csv");
    let file = std::fs::File::open(&path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let bad = |reason: String| DataError::Bad {
            path: path.display().to_string(),
            line: i + 2,
            reason,
        };
        let row = row.map_err(|e| bad(e.to_string()))?;
        if row.get(1) != Some(split) {
            continue;
        }
        let num = |k: usize| -> Result<f32, DataError> {
            row.get(k)
                .and_then(|v| v.trim().parse::<f32>().ok())
                .ok_or_else(|| bad(format!("column {} is not a number", k + 1)))
        };
        let text = row.get(5).unwrap_or_default().trim();
        if text.is_empty() {
            continue;
        }
        out.push(VaExample {
            text: text.to_string(),
            valence: (num(2)? - 3.0) / 2.0,
            arousal: (num(3)? - 3.0) / 2.0,
        });
    }
    Ok(out)
}

/// A MusicMood song: its lyrics and whether the person who read them called the song happy (else sad).
#[derive(Debug, Clone)]
pub struct SongExample {
    /// The dataset's `file` column (a Million Song Dataset track file), unique per song.
    pub id: String,
    pub artist: String,
    pub title: String,
    pub lyrics: String,
    pub happy: bool,
}

/// The file MusicMood's 1,000 labelled songs are in.
pub const MUSICMOOD_FILE: &str = "train_lyrics_1000.csv";
/// The seed of the MusicMood train/dev split. Changing it moves songs between train and dev: never do it
/// between training a model and scoring it.
pub const MUSICMOOD_SEED: u64 = 20_14;
/// The share of each mood that goes to dev: 200 of the 1,000 songs.
pub const MUSICMOOD_DEV_SHARE: f64 = 0.2;

/// Reads every song of `DIR/train_lyrics_1000.csv` (file, artist, title, lyrics, genre, mood, year), in file
/// order.
pub fn musicmood_all(dir: &Path) -> Result<Vec<SongExample>, DataError> {
    let path = dir.join(MUSICMOOD_FILE);
    let file = std::fs::File::open(&path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let bad = |line: usize, reason: String| DataError::Bad {
        path: path.display().to_string(),
        line,
        reason,
    };
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| bad(1, format!("no {name:?} column")))
    };
    let (c_file, c_artist, c_title, c_lyrics, c_mood) = (
        column("file")?,
        column("artist")?,
        column("title")?,
        column("lyrics")?,
        column("mood")?,
    );
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            bad(line, e.to_string())
        })?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let get = |c: usize| row.get(c).unwrap_or_default().trim().to_string();
        let happy = match get(c_mood).to_ascii_lowercase().as_str() {
            "happy" => true,
            "sad" => false,
            other => {
                return Err(bad(
                    line,
                    format!("mood {other:?} is neither happy nor sad"),
                ))
            }
        };
        let lyrics = row.get(c_lyrics).unwrap_or_default().to_string();
        if lyrics.trim().is_empty() {
            continue;
        }
        out.push(SongExample {
            id: get(c_file),
            artist: get(c_artist),
            title: get(c_title),
            lyrics,
            happy,
        });
    }
    Ok(out)
}

/// One split of MusicMood: `train` (800 songs) or `dev` (200), see [`dev_members`].
pub fn musicmood(dir: &Path, split: &str) -> Result<Vec<SongExample>, DataError> {
    let want_dev = match split {
        "train" => false,
        "dev" => true,
        other => return Err(DataError::MusicMoodSplit(other.to_string())),
    };
    let all = musicmood_all(dir)?;
    let keys: Vec<(usize, String)> = all
        .iter()
        .map(|s| (usize::from(s.happy), song_key(s)))
        .collect();
    let dev = dev_members(&keys, MUSICMOOD_DEV_SHARE, MUSICMOOD_SEED);
    Ok(all
        .into_iter()
        .zip(dev)
        .filter(|(_, d)| *d == want_dev)
        .map(|(s, _)| s)
        .collect())
}

/// What identifies a song for the split: its file id, or artist and title when it has none.
fn song_key(s: &SongExample) -> String {
    if s.id.is_empty() {
        format!("{}\u{1f}{}", s.artist, s.title)
    } else {
        s.id.clone()
    }
}

/// A deterministic stratified split: which items (given as class and a stable key) go to dev. Within each class
/// items are ordered by a seeded SHA-256 of their key, so the split depends only on the keys and the seed (not on
/// file order, platform or a random number generator's version), and the first `share` of each class goes to dev.
/// Class counts are rounded so that dev holds `round(share · n)` items in all, the remainders going to the classes
/// with the largest fractional parts.
pub fn dev_members(items: &[(usize, String)], share: f64, seed: u64) -> Vec<bool> {
    let classes = items.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, (c, _)) in items.iter().enumerate() {
        members[*c].push(i);
    }
    let total = (share * items.len() as f64).round() as usize;
    let exact: Vec<f64> = members.iter().map(|m| share * m.len() as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..classes).collect();
    by_remainder.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &c in by_remainder
        .iter()
        .cycle()
        .take(total.saturating_sub(counts.iter().sum()))
    {
        counts[c] += 1;
    }
    let rank = |key: &str| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(key.as_bytes());
        h.finalize().into()
    };
    let mut dev = vec![false; items.len()];
    for (class, idx) in members.iter_mut().enumerate() {
        idx.sort_by_cached_key(|&i| (rank(&items[i].1), i));
        for &i in idx.iter().take(counts[class].min(idx.len())) {
            dev[i] = true;
        }
    }
    dev
}

/// moodtape's short moods: one to four words with valence, arousal (-1..1) and quadrant, in splits.
pub const SHORT_MOODS: &str = include_str!("../../data/moods/short_moods.tsv");

/// A short mood: the text someone might type, and where it sits on the plane.
#[derive(Debug, Clone)]
pub struct MoodExample {
    pub text: String,
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: Quadrant,
}

/// The short moods of one split, from the compiled-in file or, given `path`, from a file of the same form
/// (header `text, valence, arousal, quadrant, split`, tab-separated).
pub fn short_moods(path: Option<&Path>, split: &str) -> Result<Vec<MoodExample>, DataError> {
    check_split(split)?;
    let (name, owned);
    let text = match path {
        Some(p) => {
            name = p.display().to_string();
            owned = std::fs::read_to_string(p).map_err(|source| DataError::Read {
                path: name.clone(),
                source,
            })?;
            owned.as_str()
        }
        None => {
            name = "data/moods/short_moods.tsv".to_string();
            SHORT_MOODS
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: &str| DataError::Bad {
            path: name.clone(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [text, valence, arousal, quadrant, row_split] = cols[..] else {
            return Err(bad("expected 5 tab-separated columns"));
        };
        if row_split != split {
            continue;
        }
        let num = |v: &str| {
            v.parse::<f32>()
                .ok()
                .filter(|x| x.abs() <= 1.0)
                .ok_or_else(|| bad("valence and arousal are numbers in -1..1"))
        };
        out.push(MoodExample {
            text: text.to_string(),
            valence: num(valence)?,
            arousal: num(arousal)?,
            quadrant: Quadrant::parse(quadrant).ok_or_else(|| bad("quadrant is Q1-Q4"))?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(happy: usize, sad: usize) -> Vec<(usize, String)> {
        (0..happy)
            .map(|i| (1, format!("h{i}")))
            .chain((0..sad).map(|i| (0, format!("s{i}"))))
            .collect()
    }

    #[test]
    fn the_split_is_stratified_sized_and_deterministic() {
        // MusicMood's shape: 446 happy, 554 sad.
        let all = items(446, 554);
        let dev = dev_members(&all, 0.2, MUSICMOOD_SEED);
        assert_eq!(dev.iter().filter(|&&d| d).count(), 200);
        let dev_happy = all
            .iter()
            .zip(&dev)
            .filter(|((c, _), d)| **d && *c == 1)
            .count();
        assert_eq!(dev_happy, 89, "446 · 0.2 = 89.2");
        assert_eq!(dev_members(&all, 0.2, MUSICMOOD_SEED), dev);
        // File order does not matter: each key keeps its side.
        let mut reversed = all.clone();
        reversed.reverse();
        let dev_rev = dev_members(&reversed, 0.2, MUSICMOOD_SEED);
        for ((_, key), d) in reversed.iter().zip(&dev_rev) {
            let i = all.iter().position(|(_, k)| k == key).unwrap_or(usize::MAX);
            assert_eq!(dev[i], *d, "{key}");
        }
        // Another seed gives another split of the same sizes.
        let other = dev_members(&all, 0.2, MUSICMOOD_SEED + 1);
        assert_ne!(other, dev);
        assert_eq!(other.iter().filter(|&&d| d).count(), 200);
        // Small and empty inputs.
        assert_eq!(
            dev_members(&items(3, 2), 0.2, 1)
                .iter()
                .filter(|&&d| d)
                .count(),
            1
        );
        assert!(dev_members(&[], 0.2, 1).is_empty());
    }

    #[test]
    fn musicmood_splits_are_disjoint_and_cover_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("file,artist,title,lyrics,genre,mood,year\n");
        for i in 0..10 {
            let mood = if i % 2 == 0 { "happy" } else { "sad" };
            csv.push_str(&format!(
                "T{i}.h5,A{i},Song {i},\"line one\nline two\",Rock,{mood},2000\n"
            ));
        }
        std::fs::write(dir.path().join(MUSICMOOD_FILE), csv).unwrap();
        let train = musicmood(dir.path(), "train").unwrap();
        let dev = musicmood(dir.path(), "dev").unwrap();
        assert_eq!((train.len(), dev.len()), (8, 2));
        assert_eq!(dev.iter().filter(|s| s.happy).count(), 1);
        assert!(dev.iter().all(|d| train.iter().all(|t| t.id != d.id)));
        assert_eq!(dev[0].lyrics.lines().count(), 2);
        assert!(matches!(
            musicmood(dir.path(), "test"),
            Err(DataError::MusicMoodSplit(_))
        ));
    }

    #[test]
    fn the_short_moods_have_their_documented_splits() {
        let sizes: Vec<usize> = ["train", "dev", "test"]
            .iter()
            .map(|s| short_moods(None, s).unwrap().len())
            .collect();
        assert_eq!(sizes, [878, 135, 340]);
        for m in short_moods(None, "train").unwrap() {
            assert_eq!(Quadrant::of(m.valence, m.arousal), m.quadrant, "{}", m.text);
        }
    }
}
