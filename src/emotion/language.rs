//! Which language lyrics are in, chunk by chunk. The encoder and heads were trained on English only, so a song
//! sung in another language gets no mood rather than a made-up one, and in a song that mixes English with another
//! language only the English chunks are read.
//!
//! Detection is whatlang's trigram model: small, fast, and honest about how sure it is. It is only trusted on a
//! text with enough letters and a clear winner; short or unclear text ("yeah yeah", "oh baby, mi amor") counts as
//! English, so a short English lyric is never skipped.

/// Part of the model key: a change to the rule below makes `analyze` read every song again.
pub const RULE_VERSION: &str = "lang2";

/// Letters a text needs before its detected language is trusted.
pub const MIN_LETTERS: usize = 40;

/// whatlang's confidence (how far the best language is ahead of the next) at which a detection is trusted. Two
/// lines of Spanish, French, German or Portuguese lyrics score 0.65 and up; English lines full of slang or names
/// ("Rollin' down the block in my Chevy") may come out as Welsh or Zulu, but under 0.2.
pub const MIN_CONFIDENCE: f64 = 0.5;

/// The English chunks of a mixed song are read when they hold at least this share of its letters (repeated
/// choruses count each time they are sung). An English chorus over verses in another language is about a third
/// of a song; less than that is a line or two, too little to say what the song is about, and the song is skipped.
pub const MIN_ENGLISH_SHARE: f32 = 1.0 / 3.0;

/// The language of a text, when it can be told: ISO 639-1 ("es"), or ISO 639-3 for the few without one.
pub fn detect(text: &str) -> Option<String> {
    trusted(text).map(|lang| iso_639_1(lang).to_string())
}

fn trusted(text: &str) -> Option<whatlang::Lang> {
    if letters(text) < MIN_LETTERS {
        return None;
    }
    whatlang::detect(text)
        .filter(|info| info.confidence() >= MIN_CONFIDENCE)
        .map(|info| info.lang())
}

fn letters(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphabetic()).count()
}

/// What to read of a song, from the texts of its chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The language with the most letters, when any chunk (or the whole text) could be told.
    pub language: Option<String>,
    /// For each chunk: read it (it is English, or its language cannot be told).
    pub read: Vec<bool>,
    /// The share of the song's letters in the chunks read, 0..1.
    pub english_share: f32,
}

impl Verdict {
    /// True when the song should get no mood: too little of it is in English.
    pub fn skip(&self) -> bool {
        self.english_share < MIN_ENGLISH_SHARE
    }
}

/// Judges a song by its chunks. A song whose whole text reads as English is read whole: on short, repetitive
/// chunks the trigram model misfires (on 1,000 real English lyrics, about one chunk in a hundred, such as "I
/// feel sick in my head" four times, came out as Welsh or Afrikaans), and reading a verse in another language of
/// a mostly English song costs less than dropping English ones. Otherwise each chunk is in the language detected
/// in it when that can be trusted; a chunk too short or unclear to tell takes the language of the whole song
/// (when that can be told) or else counts as English. The chunks in English are read; see [`MIN_ENGLISH_SHARE`]
/// for when that is too few.
pub fn judge(chunks: &[&str]) -> Verdict {
    let whole = trusted(&chunks.join("\n"));
    let langs: Vec<Option<whatlang::Lang>> = chunks
        .iter()
        .map(|c| match whole {
            Some(whatlang::Lang::Eng) => whole,
            _ => trusted(c).or(whole),
        })
        .collect();
    let sizes: Vec<usize> = chunks.iter().map(|c| letters(c)).collect();
    let total: usize = sizes.iter().sum();
    let read: Vec<bool> = langs
        .iter()
        .map(|l| l.is_none_or(|l| l == whatlang::Lang::Eng))
        .collect();
    let english: usize = sizes
        .iter()
        .zip(&read)
        .filter(|(_, r)| **r)
        .map(|(n, _)| n)
        .sum();
    let mut by_lang: Vec<(whatlang::Lang, usize)> = Vec::new();
    for (lang, n) in langs.iter().zip(&sizes) {
        if let Some(lang) = lang {
            match by_lang.iter_mut().find(|(l, _)| l == lang) {
                Some((_, count)) => *count += n,
                None => by_lang.push((*lang, *n)),
            }
        }
    }
    // The first language seen wins a tie, so the verdict never depends on anything but the text.
    let main = by_lang
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.1.cmp(&b.1).then(j.cmp(i)))
        .map(|(_, (lang, _))| iso_639_1(*lang).to_string());
    Verdict {
        language: main,
        read,
        english_share: if total == 0 {
            1.0
        } else {
            english as f32 / total as f32
        },
    }
}

/// The English name of a language code [`detect`] gives ("es" → "Spanish"); the code itself when unknown.
pub fn name(code: &str) -> String {
    whatlang::Lang::all()
        .iter()
        .find(|l| iso_639_1(**l) == code || l.code() == code)
        .map_or_else(
            || crate::sanitize::clean_line(code),
            |l| l.eng_name().to_string(),
        )
}

/// ISO 639-1 codes of whatlang's languages (it names them by ISO 639-3).
fn iso_639_1(lang: whatlang::Lang) -> &'static str {
    const CODES: [(&str, &str); 70] = [
        ("epo", "eo"),
        ("eng", "en"),
        ("rus", "ru"),
        ("cmn", "zh"),
        ("spa", "es"),
        ("por", "pt"),
        ("ita", "it"),
        ("ben", "bn"),
        ("fra", "fr"),
        ("deu", "de"),
        ("ukr", "uk"),
        ("kat", "ka"),
        ("ara", "ar"),
        ("hin", "hi"),
        ("jpn", "ja"),
        ("heb", "he"),
        ("yid", "yi"),
        ("pol", "pl"),
        ("amh", "am"),
        ("jav", "jv"),
        ("kor", "ko"),
        ("nob", "nb"),
        ("dan", "da"),
        ("swe", "sv"),
        ("fin", "fi"),
        ("tur", "tr"),
        ("nld", "nl"),
        ("hun", "hu"),
        ("ces", "cs"),
        ("ell", "el"),
        ("bul", "bg"),
        ("bel", "be"),
        ("mar", "mr"),
        ("kan", "kn"),
        ("ron", "ro"),
        ("slv", "sl"),
        ("hrv", "hr"),
        ("srp", "sr"),
        ("mkd", "mk"),
        ("lit", "lt"),
        ("lav", "lv"),
        ("est", "et"),
        ("tam", "ta"),
        ("vie", "vi"),
        ("urd", "ur"),
        ("tha", "th"),
        ("guj", "gu"),
        ("uzb", "uz"),
        ("pan", "pa"),
        ("aze", "az"),
        ("ind", "id"),
        ("tel", "te"),
        ("pes", "fa"),
        ("mal", "ml"),
        ("ori", "or"),
        ("mya", "my"),
        ("nep", "ne"),
        ("sin", "si"),
        ("khm", "km"),
        ("tuk", "tk"),
        ("aka", "ak"),
        ("zul", "zu"),
        ("sna", "sn"),
        ("afr", "af"),
        ("lat", "la"),
        ("slk", "sk"),
        ("cat", "ca"),
        ("tgl", "tl"),
        ("hye", "hy"),
        ("cym", "cy"),
    ];
    let code = lang.code();
    CODES
        .iter()
        .find(|(three, _)| *three == code)
        .map_or(code, |(_, two)| two)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN_LONG: &str = "I walk alone down the empty street\nThe city sleeps beneath my feet\nHold me close and don't let go\nI need you more than you will ever know";
    const ES_LONG: &str = "La noche es larga y tú no estás aquí\nLloro sola pensando en ti\nBailando en la calle bajo el sol\nMi corazón canta una canción de amor";
    const FR_LONG: &str = "Je marche seul dans la rue vide\nLa ville dort et mon coeur est triste\nTu es mon amour, mon soleil, ma vie\nSans toi je ne suis rien, reviens";
    const DE_LONG: &str = "Ich gehe allein durch die leere Straße\nDie Stadt schläft und mein Herz ist schwer\nDu bist mein Stern, mein Licht in der Nacht\nIch hab die ganze Zeit an dich gedacht";
    const PT_LONG: &str = "Eu ando sozinho pela rua vazia\nA cidade dorme e meu coração chora\nVem dançar comigo, que a noite é nossa\nNão tenho medo de nada agora";

    #[test]
    fn long_texts_are_told_apart() {
        for (text, code) in [
            (EN_LONG, "en"),
            (ES_LONG, "es"),
            (FR_LONG, "fr"),
            (DE_LONG, "de"),
            (PT_LONG, "pt"),
        ] {
            assert_eq!(detect(text).as_deref(), Some(code), "{text}");
        }
    }

    #[test]
    fn short_texts_are_not_told() {
        for text in [
            "I love you",
            "Te quiero",
            "Je t'aime",
            "Ich liebe dich",
            "Saudade de você, meu amor",
            "Oh baby baby, mi amor",
            "Yeah yeah yeah, oh oh oh, na na na na na na, hey hey hey",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn english_songs_are_read_whole_however_short() {
        for song in [
            vec!["I love you"],
            vec![
                "Yeah yeah yeah, oh oh oh",
                "Baby don't go, stay with me tonight",
            ],
            vec![
                "Rollin' down the block in my Chevy, mama said\nAin't nobody gonna stop me now",
                EN_LONG,
            ],
        ] {
            let v = judge(&song);
            assert!(!v.skip(), "{song:?}: {v:?}");
            assert!(v.read.iter().all(|r| *r), "{song:?}: {v:?}");
            assert_eq!(v.english_share, 1.0);
        }
        assert_eq!(judge(&[EN_LONG]).language.as_deref(), Some("en"));
        assert_eq!(judge(&["I love you"]).language, None);
    }

    #[test]
    fn songs_in_other_languages_are_skipped_with_their_language() {
        for (text, code) in [
            (ES_LONG, "es"),
            (FR_LONG, "fr"),
            (DE_LONG, "de"),
            (PT_LONG, "pt"),
        ] {
            let halves: Vec<&str> = text.splitn(3, '\n').collect();
            let v = judge(&halves);
            assert!(v.skip(), "{text}: {v:?}");
            assert_eq!(v.language.as_deref(), Some(code));
            assert_eq!(v.english_share, 0.0, "{v:?}");
        }
    }

    #[test]
    fn a_song_that_reads_as_english_is_read_whole() {
        // Alone, this repetitive English chunk comes out as another language; in its song it is read.
        let chorus = "I feel sick in my head\nI feel sick in my head\nI feel sick in my head\nI feel sick in my head";
        assert!(
            detect(chorus).is_some_and(|l| l != "en"),
            "{:?}",
            detect(chorus)
        );
        let v = judge(&[EN_LONG, chorus, EN_LONG, chorus, EN_LONG]);
        assert_eq!(v.read, vec![true; 5], "{v:?}");
        assert_eq!(v.english_share, 1.0);
    }

    #[test]
    fn a_short_chunk_takes_the_language_of_its_song() {
        // "Te quiero" alone cannot be told, but it is sung in a Spanish song.
        let v = judge(&[ES_LONG, "Te quiero, te quiero", ES_LONG]);
        assert_eq!(v.read, vec![false, false, false]);
        assert!(v.skip());
    }

    #[test]
    fn mixed_songs_read_their_english_part_when_it_is_large_enough() {
        // Mostly English with a verse in Spanish: the verse is left out.
        let v = judge(&[EN_LONG, ES_LONG, EN_LONG, EN_LONG]);
        assert_eq!(v.read, vec![true, false, true, true], "{v:?}");
        assert_eq!(v.language.as_deref(), Some("en"));
        assert!(!v.skip());

        // Spanish verses with an English chorus sung twice: the chorus is read, the verses are not.
        let v = judge(&[ES_LONG, EN_LONG, ES_LONG, EN_LONG, ES_LONG]);
        assert_eq!(v.read, vec![false, true, false, true, false], "{v:?}");
        assert!(!v.skip(), "{v:?}");
        assert!((0.34..0.5).contains(&v.english_share), "{v:?}");
        assert_eq!(v.language.as_deref(), Some("es"));

        // One English chunk among four in Spanish is too little to read the song by.
        let v = judge(&[ES_LONG, ES_LONG, EN_LONG, ES_LONG, ES_LONG]);
        assert_eq!(v.read, vec![false, false, true, false, false]);
        assert!(v.skip(), "{v:?}");
        assert_eq!(v.language.as_deref(), Some("es"));
    }

    #[test]
    fn names_of_languages() {
        assert_eq!(name("es"), "Spanish");
        assert_eq!(name("de"), "German");
        assert_eq!(name("xx"), "xx");
    }
}
