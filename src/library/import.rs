//! Importing songs from CSV or JSONL. Columns are found by header name (with common synonyms) or by a `--map`
//! such as `artist=Performer,title=2`; a row that fails is reported with its line number and the rest go on.
//!
//! Files come from anywhere, so reading them is bounded: only regular files are opened (a device or a FIFO would
//! never end), rows stream into the store in batches, a line is read up to [`MAX_LINE_BYTES`] and a CSV record
//! (a quoted field may span lines) up to [`MAX_RECORD_LINES`] lines. CSV is read by our own small reader rather
//! than the csv crate, which lets an unclosed quote swallow the rest of the file without a word: here such a
//! record is a failed row at its first line and reading goes on at the line after it. Text is UTF-8 (with or
//! without a BOM) or UTF-16 with a BOM; a line that is not valid UTF-8 is read as Windows-1252, the usual
//! "Latin-1" of spreadsheets, and the summary says so.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Read};
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
/// A longer line is a failed row, skipped without being read into memory whole.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// A CSV record whose quoted field is still open after this many lines (or [`MAX_LINE_BYTES`] bytes) is an
/// unclosed quote: no song's lyrics come near it.
pub const MAX_RECORD_LINES: usize = 1000;
/// Failed rows listed one by one in a summary; the rest are only counted.
pub const MAX_LISTED_FAILURES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is {kind}, not a regular file; import reads CSV, TSV or JSONL files")]
    NotAFile { path: String, kind: &'static str },
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
    /// The first [`MAX_LISTED_FAILURES`] failed rows.
    pub failed: Vec<RowError>,
    /// Every failed row, listed or not.
    #[serde(default)]
    pub failed_rows: usize,
    /// Things the user should know about the file as a whole (its encoding).
    #[serde(default)]
    pub notes: Vec<String>,
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

/// Opens `path` for reading if it is a regular file (links followed): a device or a FIFO would never end, and a
/// FIFO is opened without blocking before its type is checked.
pub fn open_regular(path: &Path) -> Result<std::fs::File, ImportError> {
    crate::files::open_regular(path, crate::files::Links::Follow).map_err(|e| match e {
        crate::files::FileError::NotRegular { path, kind } => ImportError::NotAFile { path, kind },
        crate::files::FileError::Io { path, source } => ImportError::Read { path, source },
        other => ImportError::Usage(other.to_string()),
    })
}

/// Imports `path` into the store; `map` overrides header detection, `has_header` is false for headerless CSV.
/// Rows stream from the file into the store in batches, so memory does not grow with the file.
/// How far an import is: songs stored, and bytes of the file read (for a bar with an ETA).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportProgress {
    pub committed: usize,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub total_bytes: u64,
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

pub fn import_file(
    store: &Store,
    path: &Path,
    format: Format,
    map: &ColumnMap,
    has_header: bool,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportSummary, ImportError> {
    let file = open_regular(path)?;
    let total_bytes = file.metadata().map_or(0, |m| m.len());
    let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Counted {
        inner: file,
        read: read_bytes.clone(),
    };
    let mut lines =
        Lines::new(std::io::BufReader::with_capacity(64 * 1024, counted)).map_err(|source| {
            ImportError::Read {
                path: crate::sanitize::clean_line(&path.display().to_string()),
                source,
            }
        })?;
    let source = format!("import:{}", path.display());
    let mut summary = ImportSummary::default();
    let mut pending = Vec::with_capacity(BATCH);
    let mut committed = 0;
    let mut sink = |line: usize, row: Result<Row, String>| -> Result<(), ImportError> {
        summary.rows += 1;
        match row.and_then(|r| build_song(&r, &source)) {
            Ok((song, lyrics)) => {
                if song.has_lyrics() {
                    summary.with_lyrics += 1;
                }
                summary.imported += 1;
                pending.push((song, lyrics));
            }
            Err(reason) => {
                summary.failed_rows += 1;
                if summary.failed.len() < MAX_LISTED_FAILURES {
                    summary.failed.push(RowError {
                        line,
                        reason: crate::sanitize::clean_line(&reason),
                    });
                }
            }
        }
        if pending.len() >= BATCH {
            store.put_songs(&pending)?;
            store.flush()?;
            committed += pending.len();
            pending.clear();
            progress(ImportProgress {
                committed,
                bytes: read_bytes.load(std::sync::atomic::Ordering::Relaxed),
                total_bytes,
            });
        }
        Ok(())
    };
    let read = match format {
        Format::Csv => delimited_rows(&mut lines, ',', map, has_header, &mut sink),
        Format::Tsv => delimited_rows(&mut lines, '\t', map, has_header, &mut sink),
        Format::Jsonl => jsonl_rows(&mut lines, map, &mut sink),
    };
    read.map_err(|e| match e {
        RowsError::Import(e) => e,
        RowsError::Io(source) => ImportError::Read {
            path: crate::sanitize::clean_line(&path.display().to_string()),
            source,
        },
    })?;
    if !pending.is_empty() {
        store.put_songs(&pending)?;
    }
    store.flush()?;
    summary.notes.extend(lines.encoding_note());
    Ok(summary)
}

/// Why reading rows stopped: the file could not be read, or the store (or the header) failed.
enum RowsError {
    Io(std::io::Error),
    Import(ImportError),
}

impl From<std::io::Error> for RowsError {
    fn from(e: std::io::Error) -> Self {
        RowsError::Io(e)
    }
}

impl From<ImportError> for RowsError {
    fn from(e: ImportError) -> Self {
        RowsError::Import(e)
    }
}

type Sink<'a> = dyn FnMut(usize, Result<Row, String>) -> Result<(), ImportError> + 'a;

/// One physical line: its 1-based number and its text, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    number: usize,
    text: Result<String, String>,
}

/// The file's lines, decoded, each at most [`MAX_LINE_BYTES`], with lines given back for re-reading after a
/// bad CSV record.
struct Lines {
    reader: Box<dyn BufRead>,
    next_number: usize,
    again: VecDeque<Line>,
    buf: Vec<u8>,
    /// Lines that were not UTF-8 and were read as Windows-1252: how many, and the first.
    recoded: usize,
    first_recoded: usize,
    utf16: bool,
}

impl Lines {
    /// Reads the byte-order mark, if any: UTF-8's is skipped, UTF-16's turns on decoding.
    fn new<R: BufRead + 'static>(mut reader: R) -> std::io::Result<Lines> {
        // A BufReader's first fill holds far more than a BOM, unless the file is shorter than one.
        let start: Vec<u8> = reader.fill_buf()?.iter().take(3).copied().collect();
        let (reader, utf16): (Box<dyn BufRead>, bool) = if start.starts_with(&[0xEF, 0xBB, 0xBF]) {
            reader.consume(3);
            (Box::new(reader), false)
        } else if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
            let big_endian = start[0] == 0xFE;
            reader.consume(2);
            let decoded = Utf16Reader::new(reader, big_endian);
            (
                Box::new(std::io::BufReader::with_capacity(64 * 1024, decoded)),
                true,
            )
        } else {
            (Box::new(reader), false)
        };
        Ok(Lines {
            reader,
            next_number: 1,
            again: VecDeque::new(),
            buf: Vec::new(),
            recoded: 0,
            first_recoded: 0,
            utf16,
        })
    }

    fn give_back(&mut self, lines: impl DoubleEndedIterator<Item = Line>) {
        for line in lines.rev() {
            self.again.push_front(line);
        }
    }

    /// The next line without its line break; `None` at the end of the file.
    fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        if let Some(line) = self.again.pop_front() {
            return Ok(Some(line));
        }
        self.buf.clear();
        let Some(complete) = read_capped_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES)?
        else {
            return Ok(None);
        };
        let number = self.next_number;
        self.next_number += 1;
        if !complete {
            return Ok(Some(Line {
                number,
                text: Err(format!(
                    "the line is longer than {} MiB; skipped",
                    MAX_LINE_BYTES / (1024 * 1024)
                )),
            }));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(t) => t.to_string(),
            Err(_) => {
                if self.recoded == 0 {
                    self.first_recoded = number;
                }
                self.recoded += 1;
                windows_1252(&self.buf)
            }
        };
        Ok(Some(Line {
            number,
            text: Ok(text),
        }))
    }

    fn encoding_note(&self) -> Option<String> {
        match self.recoded {
            0 if self.utf16 => Some("the file is UTF-16; it was decoded".into()),
            0 => None,
            1 => Some(format!(
                "line {} is not UTF-8; it was read as Windows-1252 (Latin-1): check its accents, or save the file as UTF-8",
                self.first_recoded
            )),
            n => Some(format!(
                "{n} lines (the first is line {}) are not UTF-8; they were read as Windows-1252 (Latin-1): check their accents, or save the file as UTF-8",
                self.first_recoded
            )),
        }
    }
}

/// Appends one line (without its `\n`) to `buf`, keeping at most `cap` bytes. `None` at the end of the file;
/// `Some(false)` when the line was longer than `cap` (the rest of it is read and dropped, never held).
fn read_capped_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<bool>> {
    let mut read_any = false;
    let mut complete = true;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(read_any.then_some(complete));
        }
        read_any = true;
        let (part, used, ends) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if complete {
            if buf.len() + part.len() > cap {
                complete = false;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        reader.consume(used);
        if ends {
            return Ok(Some(complete));
        }
    }
}

/// Windows-1252 as the WHATWG encoding standard maps it (the "Latin-1" of spreadsheets and old editors); its
/// five unassigned bytes become U+FFFD rather than C1 controls.
fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{fffd}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{fffd}', 'Ž',
        '\u{fffd}', '\u{fffd}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{fffd}', 'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// UTF-16 (the BOM already read) as a stream of UTF-8 bytes; unpaired surrogates become U+FFFD.
struct Utf16Reader<R> {
    inner: R,
    big_endian: bool,
    odd_byte: Option<u8>,
    high_surrogate: Option<u16>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(inner: R, big_endian: bool) -> Utf16Reader<R> {
        Utf16Reader {
            inner,
            big_endian,
            odd_byte: None,
            high_surrogate: None,
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn push(&mut self, c: char) {
        let mut utf8 = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }

    fn unit(&mut self, unit: u16) {
        if let Some(high) = self.high_surrogate.take() {
            if (0xDC00..0xE000).contains(&unit) {
                let code =
                    0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                return;
            }
            self.push('\u{fffd}');
        }
        match unit {
            0xD800..=0xDBFF => self.high_surrogate = Some(unit),
            0xDC00..=0xDFFF => self.push('\u{fffd}'),
            _ => self.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}')),
        }
    }

    /// Decodes the next chunk into `out`; false at the end.
    fn refill(&mut self) -> std::io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() {
            if self.done {
                return Ok(false);
            }
            let mut raw = [0u8; 16 * 1024];
            let n = match self.inner.read(&mut raw) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.done = true;
                if self.high_surrogate.take().is_some() || self.odd_byte.take().is_some() {
                    self.push('\u{fffd}');
                }
                continue;
            }
            let mut bytes = raw[..n].iter().copied();
            let mut first = self.odd_byte.take().or_else(|| bytes.next());
            while let Some(a) = first {
                let Some(b) = bytes.next() else {
                    self.odd_byte = Some(a);
                    break;
                };
                let unit = if self.big_endian {
                    u16::from_be_bytes([a, b])
                } else {
                    u16::from_le_bytes([a, b])
                };
                self.unit(unit);
                first = bytes.next();
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.out.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Where a CSV record's parser stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the end of the field, or the first of a doubled `""`.
    QuoteInQuoted,
    /// Spaces after a closing quote, before the delimiter.
    AfterQuoted,
}

/// The fields of one CSV record, fed line by line (a quoted field may span lines).
struct Record {
    fields: Vec<String>,
    field: String,
    state: State,
    bytes: usize,
}

enum Fed {
    Complete(Vec<String>),
    /// A quoted field is still open at the end of the line.
    Open,
}

impl Record {
    fn new() -> Record {
        Record {
            fields: Vec::new(),
            field: String::new(),
            state: State::FieldStart,
            bytes: 0,
        }
    }

    fn end_field(&mut self) {
        self.fields.push(std::mem::take(&mut self.field));
    }

    fn feed(&mut self, line: &str, delimiter: char) -> Result<Fed, String> {
        self.bytes += line.len() + 1;
        for c in line.chars() {
            self.state = match (self.state, c) {
                (State::FieldStart, '"') => State::Quoted,
                (State::FieldStart | State::Unquoted, c) if c == delimiter => {
                    self.end_field();
                    State::FieldStart
                }
                (State::FieldStart | State::Unquoted, c) => {
                    // A quote inside an unquoted field is kept as it is (12" Mix).
                    self.field.push(c);
                    State::Unquoted
                }
                (State::Quoted, '"') => State::QuoteInQuoted,
                (State::Quoted, c) => {
                    self.field.push(c);
                    State::Quoted
                }
                (State::QuoteInQuoted, '"') => {
                    self.field.push('"');
                    State::Quoted
                }
                (State::QuoteInQuoted | State::AfterQuoted, c) if c == delimiter => {
                    self.end_field();
                    State::FieldStart
                }
                (State::QuoteInQuoted | State::AfterQuoted, ' ' | '\t') => State::AfterQuoted,
                (State::QuoteInQuoted | State::AfterQuoted, _) => {
                    return Err(
                        "a quote inside a quoted field must be doubled (\"\") or end the field; the row was skipped"
                            .into(),
                    )
                }
            };
        }
        if self.state == State::Quoted {
            self.field.push('\n');
            return Ok(Fed::Open);
        }
        self.end_field();
        self.state = State::FieldStart;
        Ok(Fed::Complete(std::mem::take(&mut self.fields)))
    }
}

/// A CSV record: its first line number, and its fields or why it failed.
type CsvRecord = (usize, Result<Vec<String>, String>);

/// The next CSV record with its first line number, or a failed one; blank lines are skipped. A record that is
/// malformed, or whose quote is not closed within [`MAX_RECORD_LINES`] lines or before the end of the file, fails
/// at its first line, and the lines after that line are read again as records of their own.
fn next_record(lines: &mut Lines, delimiter: char) -> std::io::Result<Option<CsvRecord>> {
    let first = loop {
        match lines.next_line()? {
            None => return Ok(None),
            Some(Line { text: Ok(t), .. }) if t.trim().is_empty() => continue,
            Some(line) => break line,
        }
    };
    let start = first.number;
    let text = match first.text {
        Ok(t) => t,
        Err(reason) => return Ok(Some((start, Err(reason)))),
    };
    let mut record = Record::new();
    let mut taken: Vec<Line> = Vec::new();
    let mut fed = record.feed(&text, delimiter);
    loop {
        let problem = match fed {
            Ok(Fed::Complete(fields)) => return Ok(Some((start, Ok(fields)))),
            // A stray quote lines later usually means this record's quote was never closed.
            Err(_) if !taken.is_empty() => format!(
                "unclosed quote: its field runs on to line {}; the row was skipped",
                taken.last().map_or(start, |l| l.number)
            ),
            Err(problem) => problem,
            Ok(Fed::Open)
                if taken.len() + 1 >= MAX_RECORD_LINES || record.bytes > MAX_LINE_BYTES =>
            {
                format!(
                    "unclosed quote: its field runs on past {} lines; the row was skipped",
                    taken.len() + 1
                )
            }
            Ok(Fed::Open) => match lines.next_line()? {
                None => {
                    "unclosed quote: its field runs to the end of the file; the row was skipped"
                        .into()
                }
                Some(line) => {
                    fed = match &line.text {
                        Ok(t) => record.feed(t, delimiter),
                        Err(_) => Err(format!(
                            "unclosed quote: its field runs into line {}, which is too long; the row was skipped",
                            line.number
                        )),
                    };
                    taken.push(line);
                    continue;
                }
            },
        };
        lines.give_back(taken.into_iter());
        return Ok(Some((start, Err(problem))));
    }
}

fn delimited_rows(
    lines: &mut Lines,
    delimiter: char,
    map: &ColumnMap,
    has_header: bool,
    sink: &mut Sink,
) -> Result<(), RowsError> {
    let headers: Vec<String> = if has_header {
        match next_record(lines, delimiter)? {
            Some((_, Ok(fields))) => fields
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
                .collect(),
            Some((line, Err(problem))) => {
                return Err(ImportError::Usage(format!(
                    "cannot read the header row (line {line}): {problem}"
                ))
                .into())
            }
            None => Vec::new(),
        }
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
        )
        .into());
    }
    while let Some((line, record)) = next_record(lines, delimiter)? {
        let row = record.map(|fields| {
            let mut row = Row::new();
            for (field, index) in &columns {
                if let Some(value) = fields.get(*index) {
                    row.insert(field, value.clone());
                }
            }
            if ms_duration {
                row.entry("duration").and_modify(|d| *d = ms_to_seconds(d));
            }
            row
        });
        sink(line, row)?;
    }
    Ok(())
}

fn ms_to_seconds(text: &str) -> String {
    text.trim()
        .parse::<f64>()
        .map_or_else(|_| text.to_string(), |ms| format!("{}", ms / 1000.0))
}

fn jsonl_rows(lines: &mut Lines, map: &ColumnMap, sink: &mut Sink) -> Result<(), RowsError> {
    while let Some(Line { number, text }) = lines.next_line()? {
        let text = match text {
            Ok(t) => t,
            Err(reason) => {
                sink(number, Err(reason))?;
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => {
                sink(number, Err("not a JSON object".into()))?;
                continue;
            }
            Err(e) => {
                sink(number, Err(format!("malformed JSON: {e}")))?;
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
        sink(number, Ok(row))?;
    }
    Ok(())
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
        // LRC only when it has time stamps: "[Chorus]" at the top is plain text, kept whole.
        let record = LyricsRecord::from_text(raw_lyrics, LyricsOrigin::Import);
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

    /// Every record of `text` as CSV: its line and its fields or its problem.
    fn records(text: &[u8]) -> Vec<CsvRecord> {
        let mut lines = Lines::new(std::io::Cursor::new(text.to_vec())).unwrap();
        let mut out = Vec::new();
        while let Some(r) = next_record(&mut lines, ',').unwrap() {
            out.push(r);
        }
        out
    }

    fn fields(list: &[&str]) -> Result<Vec<String>, String> {
        Ok(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn csv_records_and_quotes() {
        let got = records(b"a,\"b,c\",d\r\n\n\"multi\nline\",\"say \"\"hi\"\"\"  ,12\" Mix\n,\n");
        assert_eq!(
            got,
            vec![
                (1, fields(&["a", "b,c", "d"])),
                (3, fields(&["multi\nline", "say \"hi\"", "12\" Mix"])),
                (5, fields(&["", ""])),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_fails_its_row_and_reading_goes_on() {
        // To the end of the file: every later line is read again as its own row.
        let got = records(b"a,\"open\nb,2\nc,3\n");
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, 1);
        assert!(got[0].1.as_ref().unwrap_err().contains("unclosed quote"));
        assert_eq!(got[1], (2, fields(&["b", "2"])));
        assert_eq!(got[2], (3, fields(&["c", "3"])));
        // Into a line with quotes of its own: that line is a row again.
        let got = records(b"a,\"open\nb,\"2\"\n");
        assert!(
            got[0].1.as_ref().unwrap_err().contains("runs on to line 2"),
            "{got:?}"
        );
        assert_eq!(got[1], (2, fields(&["b", "2"])));
        // Past the record limit.
        let mut text = b"x,\"open\n".to_vec();
        for i in 0..MAX_RECORD_LINES + 5 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let got = records(&text);
        assert!(
            got[0].1.as_ref().unwrap_err().contains("past 1000 lines"),
            "{:?}",
            got[0]
        );
        assert_eq!(got.len(), MAX_RECORD_LINES + 6);
        assert_eq!(got[1], (2, fields(&["line 0"])));
        // A stray quote on the record's own line.
        let got = records(b"a,\"b\"c,d\ne,f\n");
        assert!(
            got[0].1.as_ref().unwrap_err().contains("doubled"),
            "{got:?}"
        );
        assert_eq!(got[1], (2, fields(&["e", "f"])));
    }

    #[test]
    fn encodings() {
        // Latin-1 / Windows-1252 line by line, beside UTF-8 lines.
        let mut lines = Lines::new(std::io::Cursor::new(
            b"caf\xe9 \x80\x81\ncaf\xc3\xa9\n".to_vec(),
        ))
        .unwrap();
        let first = lines.next_line().unwrap().unwrap();
        assert_eq!(first.text.unwrap(), "café €\u{fffd}");
        assert_eq!(lines.next_line().unwrap().unwrap().text.unwrap(), "café");
        assert!(lines.encoding_note().unwrap().contains("line 1"));
        // UTF-8 with a BOM, UTF-16 either way with a BOM (a surrogate pair too).
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend_from_slice("é,x\n".as_bytes());
        assert_eq!(records(&utf8), vec![(1, fields(&["é", "x"]))]);
        let text = "artist,title\r\nÉmilie,Café 🎵\r\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for bytes in [le, be] {
            let got = records(&bytes);
            assert_eq!(got[1], (2, fields(&["Émilie", "Café 🎵"])), "{got:?}");
        }
    }

    #[test]
    fn long_lines_are_skipped_without_being_held() {
        let mut text = b"short\n".to_vec();
        text.resize(text.len() + MAX_LINE_BYTES + 10, b'x');
        text.extend_from_slice(b"\nafter\n");
        let mut lines = Lines::new(std::io::Cursor::new(text)).unwrap();
        assert_eq!(lines.next_line().unwrap().unwrap().text.unwrap(), "short");
        let long = lines.next_line().unwrap().unwrap();
        assert_eq!(long.number, 2);
        assert!(long.text.unwrap_err().contains("longer than 1 MiB"));
        assert!(lines.buf.capacity() <= MAX_LINE_BYTES + 64 * 1024);
        let after = lines.next_line().unwrap().unwrap();
        assert_eq!(
            (after.number, after.text.unwrap()),
            (3, "after".to_string())
        );
        assert!(lines.next_line().unwrap().is_none());
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
