//! Splitting lyrics into chunks the encoder reads well: chunks follow stanzas (blank-line separated), a stanza too
//! long is split between lines, and tiny stanzas are merged with the next, so each chunk stays under the token limit.

/// Chunks stay at or under this many tokens (without the two special tokens).
pub const CHUNK_TOKENS: usize = 126;
/// A chunk shorter than this takes the next stanza in too.
pub const MIN_CHUNK_TOKENS: usize = 12;

/// A piece of the lyrics, with the lines (0-based, inclusive, in the stored text) it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub first_line: usize,
    pub last_line: usize,
    pub tokens: usize,
}

/// Splits `lyrics` into chunks of at most `max_tokens`, counting tokens with `count`. Lines longer than the limit
/// on their own become one chunk (the encoder truncates them).
pub fn chunk_lyrics(
    lyrics: &str,
    max_tokens: usize,
    count: &mut dyn FnMut(&str) -> usize,
) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current: Option<Chunk> = None;
    let mut stanza_break = false;
    for (n, line) in lyrics.lines().enumerate() {
        let text = line.trim();
        if text.is_empty() {
            stanza_break = true;
            continue;
        }
        let tokens = count(text);
        if let Some(cur) = current.as_mut() {
            let starts_stanza = stanza_break && cur.tokens >= MIN_CHUNK_TOKENS;
            if starts_stanza || cur.tokens + tokens > max_tokens {
                if let Some(done) = current.take() {
                    chunks.push(done);
                }
            }
        }
        stanza_break = false;
        match current.as_mut() {
            Some(cur) => {
                cur.text.push('\n');
                cur.text.push_str(text);
                cur.last_line = n;
                cur.tokens += tokens;
            }
            None => {
                current = Some(Chunk {
                    text: text.to_string(),
                    first_line: n,
                    last_line: n,
                    tokens,
                })
            }
        }
    }
    if let Some(done) = current {
        // A tiny last stanza joins the chunk before it when they fit together.
        match chunks.last_mut() {
            Some(prev)
                if done.tokens < MIN_CHUNK_TOKENS && prev.tokens + done.tokens <= max_tokens =>
            {
                prev.text.push('\n');
                prev.text.push_str(&done.text);
                prev.last_line = done.last_line;
                prev.tokens += done.tokens;
            }
            _ => chunks.push(done),
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn stanzas_become_chunks() {
        let lyrics = "one two three four five six seven\neight nine ten eleven twelve\n\n\
                      a b c d e f g h i j k l m\n\nlast line here is long enough to stand alone on its own ok";
        let chunks = chunk_lyrics(lyrics, 126, &mut words);
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert_eq!((chunks[0].first_line, chunks[0].last_line), (0, 1));
        assert_eq!((chunks[1].first_line, chunks[1].last_line), (3, 3));
        assert_eq!((chunks[2].first_line, chunks[2].last_line), (5, 5));
        assert_eq!(chunks[0].tokens, 12);
    }

    #[test]
    fn long_stanzas_split_between_lines_and_stay_under_the_limit() {
        let line = "w ".repeat(30);
        let lyrics = [line.trim(); 10].join("\n");
        let chunks = chunk_lyrics(&lyrics, 100, &mut words);
        assert!(chunks.iter().all(|c| c.tokens <= 100), "{chunks:?}");
        assert_eq!(chunks.iter().map(|c| c.tokens).sum::<usize>(), 300);
        // Chunks cover the lines in order with no gaps.
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].last_line + 1, pair[1].first_line);
        }
    }

    #[test]
    fn tiny_stanzas_merge_and_empty_lyrics_give_nothing() {
        let chunks = chunk_lyrics("oh\n\nyeah\n\nfine then\n", 126, &mut words);
        assert_eq!(chunks.len(), 1, "{chunks:?}");
        assert_eq!(chunks[0].text, "oh\nyeah\nfine then");
        assert!(chunk_lyrics("", 126, &mut words).is_empty());
        assert!(chunk_lyrics("\n\n  \n", 126, &mut words).is_empty());
        // A single huge line is kept whole (the encoder truncates it).
        let huge = "x ".repeat(500);
        let chunks = chunk_lyrics(&huge, 126, &mut words);
        assert_eq!(chunks.len(), 1);
    }
}
