//! Importing songs from CSV or JSONL. Columns are found by header name (with common synonyms) or by a `--map`
//! such as `artist=Performer,title=2`; a row that fails is reported with its line number and the rest go on.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::LyricsRecord;
use crate::records::{Location, LyricsOrigin, Song};
use crate::store::{Store, StoreError};

/// The fields an import can fill.
pub const FIELDS: [&str; 9] = [
    "artist", "title", "album", "duration", "lyrics", "location", "genre", "year", "track",
];

const BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" => Some(Format::Tsv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub rows: usize,
    pub imported: usize,
    pub with_lyrics: usize,
    pub failed: Vec<RowError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowError {
    pub line: usize,
    pub reason: String,
}

/// Where a field is read from: a named column/key or a 1-based column number.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Name(String),
    Index(usize),
}

/// `artist=Performer,title=2`: our field = a column name or number.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    fields: HashMap<&'static str, Column>,
}

impl ColumnMap {
    pub fn parse(text: &str) -> Result<ColumnMap, ImportError> {
        let mut map = ColumnMap::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, column) = part.split_once('=').ok_or_else(|| {
                ImportError::Usage(format!("--map entry {part:?} is not FIELD=COLUMN"))
            })?;
            let field = canonical_field(field.trim()).ok_or_else(|| {
                ImportError::Usage(format!(
                    "--map: unknown field {field:?}; fields are {}",
                    FIELDS.join(", ")
                ))
            })?;
            let column = column.trim();
            let column = match column.parse::<usize>() {
                Ok(0) => {
                    return Err(ImportError::Usage(
                        "--map: column numbers start at 1".into(),
                    ))
                }
                Ok(n) => Column::Index(n - 1),
                Err(_) => Column::Name(column.to_string()),
            };
            map.fields.insert(field, column);
        }
        Ok(map)
    }
}

/// Header names that mean one of our fields.
fn canonical_field(name: &str) -> Option<&'static str> {
    let n = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    Some(match n.as_str() {
        "artist" | "artist_name" | "artists" | "performer" | "band" => "artist",
        "title" | "track_name" | "song" | "name" | "song_title" | "track_title" => "title",
        "album" | "album_name" | "release" => "album",
        "duration" | "duration_s" | "length" | "seconds" | "duration_ms" | "time" => "duration",
        "lyrics" | "text" | "lyric" | "plain_lyrics" | "words" => "lyrics",
        "location" | "path" | "file" | "uri" | "url" | "filename" => "location",
        "genre" => "genre",
        "year" | "date" => "year",
        "track" | "track_number" | "tracknumber" | "trackno" => "track",
        _ => return None,
    })
}

/// A row as field name -> raw text.
type Row = HashMap<&'static str, String>;

/// Each row with its line number, parsed or failed with a reason.
type Rows = Vec<(usize, Result<Row, String>)>;

/// Imports `path` into the store; `map` overrides header detection, `has_header` is false for headerless CSV.
pub fn import_file(
    store: &Store,
    path: &Path,
    format: Format,
    map: &ColumnMap,
    has_header: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<ImportSummary, ImportError> {
    let file = std::fs::File::open(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let reader = std::io::BufReader::new(file);
    let source = format!("import:{}", path.display());
    let rows: Rows = match format {
        Format::Csv => delimited_rows(reader, b',', map, has_header)?,
        Format::Tsv => delimited_rows(reader, b'\t', map, has_header)?,
        Format::Jsonl => jsonl_rows(reader, map),
    };
    let mut summary = ImportSummary::default();
    let mut pending = Vec::new();
    let mut committed = 0;
    for (line, row) in rows {
        summary.rows += 1;
        match row.and_then(|r| build_song(&r, &source)) {
            Ok((song, lyrics)) => {
                if song.has_lyrics() {
                    summary.with_lyrics += 1;
                }
                summary.imported += 1;
                pending.push((song, lyrics));
            }
            Err(reason) => summary.failed.push(RowError { line, reason }),
        }
        if pending.len() >= BATCH {
            store.put_songs(&pending)?;
            store.flush()?;
            committed += pending.len();
            pending.clear();
            progress(committed);
        }
    }
    if !pending.is_empty() {
        store.put_songs(&pending)?;
    }
    store.flush()?;
    Ok(summary)
}

fn delimited_rows(
    reader: impl std::io::Read,
    delimiter: u8,
    map: &ColumnMap,
    has_header: bool,
) -> Result<Rows, ImportError> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_header)
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(reader);
    let headers: Vec<String> = if has_header {
        csv.headers()
            .map_err(|e| ImportError::Usage(format!("cannot read the header row: {e}")))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .collect()
    } else {
        Vec::new()
    };
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if let Some(field) = canonical_field(h) {
            columns.entry(field).or_insert(i);
        }
    }
    let ms_duration = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("duration_ms"));
    for (field, column) in &map.fields {
        let index = match column {
            Column::Index(i) => *i,
            Column::Name(name) => headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    ImportError::Usage(format!("--map: no column named {name:?} in the header"))
                })?,
        };
        columns.insert(field, index);
    }
    if !columns.contains_key("title") && !columns.contains_key("artist") {
        return Err(ImportError::Usage(
            "no artist or title column found; name them in a header row or give --map artist=COL,title=COL".into(),
        ));
    }
    let mut rows = Vec::new();
    for record in csv.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let mut row = Row::new();
                for (field, index) in &columns {
                    if let Some(value) = record.get(*index) {
                        row.insert(field, value.to_string());
                    }
                }
                if ms_duration {
                    row.entry("duration").and_modify(|d| *d = ms_to_seconds(d));
                }
                rows.push((line, Ok(row)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Err(format!("malformed row: {e}"))));
            }
        }
    }
    Ok(rows)
}

fn ms_to_seconds(text: &str) -> String {
    text.trim()
        .parse::<f64>()
        .map_or_else(|_| text.to_string(), |ms| format!("{}", ms / 1000.0))
}

fn jsonl_rows(reader: impl BufRead, map: &ColumnMap) -> Rows {
    let mut rows = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let number = i + 1;
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                rows.push((number, Err(format!("unreadable line: {e}"))));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => {
                rows.push((number, Err("not a JSON object".into())));
                continue;
            }
            Err(e) => {
                rows.push((number, Err(format!("malformed JSON: {e}"))));
                continue;
            }
        };
        let mut row = Row::new();
        for (key, value) in &object {
            if let Some(field) = canonical_field(key) {
                let text = json_text(value);
                let text = if key.eq_ignore_ascii_case("duration_ms") {
                    ms_to_seconds(&text)
                } else {
                    text
                };
                row.entry(field).or_insert(text);
            }
        }
        for (field, column) in &map.fields {
            if let Column::Name(name) = column {
                if let Some(value) = object.get(name) {
                    row.insert(field, json_text(value));
                }
            }
        }
        rows.push((number, Ok(row)));
    }
    rows
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn build_song(row: &Row, source: &str) -> Result<(Song, Option<LyricsRecord>), String> {
    let get = |f: &str| row.get(f).map(|s| s.trim()).unwrap_or("");
    if get("artist").is_empty() && get("title").is_empty() {
        return Err("no artist and no title".into());
    }
    let location = Location::parse(get("location"));
    let mut song = Song::new(get("artist"), get("title"), get("album"), location);
    song.source = source.to_string();
    song.genre = crate::sanitize::clean_line(get("genre"));
    if !get("duration").is_empty() {
        song.duration_s = Some(parse_duration(get("duration")).ok_or_else(|| {
            format!(
                "duration {:?} is not seconds, m:ss or h:mm:ss",
                get("duration")
            )
        })?);
    }
    if !get("year").is_empty() {
        let year = get("year").get(..4).and_then(|y| y.parse().ok());
        song.year = Some(year.ok_or_else(|| format!("year {:?} is not a year", get("year")))?);
    }
    if !get("track").is_empty() {
        let track = get("track")
            .split('/')
            .next()
            .and_then(|t| t.trim().parse().ok());
        song.track =
            Some(track.ok_or_else(|| format!("track {:?} is not a number", get("track")))?);
    }
    let raw_lyrics = row.get("lyrics").map(String::as_str).unwrap_or("");
    let lyrics = if raw_lyrics.trim().is_empty() {
        None
    } else {
        let lrc = raw_lyrics.trim_start().starts_with('[') && raw_lyrics.contains(']');
        let record = if lrc {
            LyricsRecord::synced(raw_lyrics, LyricsOrigin::Import)
        } else {
            LyricsRecord::new(raw_lyrics, LyricsOrigin::Import)
        };
        record.has_words().then_some(record)
    };
    song.lyrics_origin = lyrics.as_ref().map(|l| l.origin);
    Ok((song, lyrics))
}

/// Seconds from `214`, `214.5`, `3:34` or `1:02:03`.
pub fn parse_duration(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let value = match parts.as_slice() {
        [s] => s.parse::<f64>().ok()?,
        [m, s] => m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?,
        [h, m, s] => {
            h.parse::<f64>().ok()? * 3600.0
                + m.parse::<f64>().ok()? * 60.0
                + s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    (value.is_finite() && (0.0..360_000.0).contains(&value)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("214"), Some(214.0));
        assert_eq!(parse_duration("3:34"), Some(214.0));
        assert_eq!(parse_duration("1:00:01"), Some(3601.0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-3"), None);
    }

    #[test]
    fn map_parses_names_and_numbers() {
        let m = ColumnMap::parse("artist=Performer, title=2").unwrap();
        assert_eq!(m.fields["artist"], Column::Name("Performer".into()));
        assert_eq!(m.fields["title"], Column::Index(1));
        assert!(ColumnMap::parse("colour=3").is_err());
        assert!(ColumnMap::parse("title=0").is_err());
    }
}
