//! Orders of songs by their names, case-insensitively, fast enough for a library of 100,000 songs at startup: each
//! song's sort key is built once as bytes (fields lowercased and joined by NUL, which sorts below any character,
//! so the join orders as the tuple of its fields would), its first eight bytes compared as a number before the rest.

use rayon::prelude::*;

use super::Song;

/// Appends `text` lowercased (ASCII without a lookup, the rest through `char::to_lowercase`) and then a NUL.
fn push_field(key: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        key.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        let mut buf = [0u8; 4];
        for c in text.chars().flat_map(char::to_lowercase) {
            key.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    key.push(0);
}

/// A field of a sort key: text (compared lowercased) or a number (as fixed-width big-endian bytes).
pub enum Field<'a> {
    Text(&'a str),
    Number(u32),
}

/// Every song's key, packed in one buffer per slice of songs (a key per song would be 100,000 small allocations
/// on a big library, which cost more than the sort).
struct Keys {
    bytes: Vec<u8>,
    /// Where each song's key ends in `bytes` (it starts where the previous one ends).
    ends: Vec<usize>,
}

impl Keys {
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Songs keyed per parallel task.
const KEY_SLICE: usize = 8192;

fn keys_of<const N: usize, F>(songs: &[Song], fields: &F) -> Keys
where
    F: for<'s> Fn(&'s Song) -> [Field<'s>; N] + Sync,
{
    let parts: Vec<(Vec<u8>, Vec<usize>)> = songs
        .par_chunks(KEY_SLICE)
        .map(|chunk| {
            let mut bytes = Vec::new();
            let mut ends = Vec::with_capacity(chunk.len());
            for song in chunk {
                for field in fields(song) {
                    match field {
                        Field::Text(t) => push_field(&mut bytes, t),
                        Field::Number(n) => bytes.extend_from_slice(&n.to_be_bytes()),
                    }
                }
                ends.push(bytes.len());
            }
            (bytes, ends)
        })
        .collect();
    let mut keys = Keys {
        bytes: Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum()),
        ends: Vec::with_capacity(songs.len()),
    };
    for (bytes, ends) in parts {
        let base = keys.bytes.len();
        keys.bytes.extend_from_slice(&bytes);
        keys.ends.extend(ends.into_iter().map(|e| e + base));
    }
    keys
}

/// The song indices in the order of the keys `fields` gives each song (ties keep song order), built and sorted on
/// every core.
pub fn order_by<const N: usize, F>(songs: &[Song], fields: F) -> Vec<u32>
where
    F: for<'s> Fn(&'s Song) -> [Field<'s>; N] + Sync,
{
    let keys = keys_of(songs, &fields);
    let heads: Vec<u64> = (0..songs.len())
        .into_par_iter()
        .map(|i| {
            let k = keys.get(i);
            let mut head = [0u8; 8];
            let n = k.len().min(8);
            head[..n].copy_from_slice(&k[..n]);
            u64::from_be_bytes(head)
        })
        .collect();
    let mut order: Vec<u32> = (0..songs.len() as u32).collect();
    order.par_sort_unstable_by(|a, b| {
        let (a, b) = (*a as usize, *b as usize);
        heads[a]
            .cmp(&heads[b])
            .then_with(|| keys.get(a).cmp(keys.get(b)))
            .then(a.cmp(&b))
    });
    order
}

/// The library's order: artist, album, track (untracked songs last), title, then id, each case-insensitive.
pub fn library_order(songs: &[Song]) -> Vec<u32> {
    order_by(songs, |s| {
        [
            Field::Text(&s.artist),
            Field::Text(&s.album),
            Field::Number(s.track.unwrap_or(u32::MAX)),
            Field::Text(&s.title),
            Field::Text(s.id.as_str()),
        ]
    })
}

/// Puts `songs` in [`library_order`].
pub fn sort_songs(songs: &mut [Song]) {
    let order = library_order(songs);
    permute(songs, &order);
}

/// Rearranges `items` so that `items[k]` becomes what was `items[order[k]]`, in place (`order` is a permutation).
fn permute<T>(items: &mut [T], order: &[u32]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        if placed[start] {
            continue;
        }
        // Follow the cycle through `start`: each slot takes the item its order names, which is the next slot.
        let mut slot = start;
        loop {
            placed[slot] = true;
            let from = order[slot] as usize;
            if from == start {
                break;
            }
            items.swap(slot, from);
            slot = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(artist: &str, album: &str, track: Option<u32>, title: &str) -> Song {
        let mut s = Song::new(artist, title, album, crate::records::Location::None);
        s.track = track;
        s
    }

    /// The order the tuple of lowercased fields gives, which the byte keys must reproduce.
    fn tuple_order(songs: &[Song]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..songs.len() as u32).collect();
        order.sort_by_cached_key(|&i| {
            let s = &songs[i as usize];
            (
                s.artist.to_lowercase(),
                s.album.to_lowercase(),
                s.track.unwrap_or(u32::MAX),
                s.title.to_lowercase(),
                s.id.as_str().to_string(),
            )
        });
        order
    }

    #[test]
    fn library_order_is_the_tuple_order() {
        let songs = vec![
            song("b", "", None, "x"),
            song("A", "z", Some(2), "one"),
            song("a", "z", Some(10), "two"),
            song("a", "z", None, "three"),
            song("ab", "", None, "x"),
            song("a", "", Some(1), "Élan"),
            song("a", "", Some(1), "elan"),
            song("Ärger", "", None, "x"),
            song("ärger", "", None, "y"),
            song("a", "zz", Some(256), "x"),
            song("a", "zz", Some(1), "x"),
            song("Μουσική", "", None, "x"),
            song("a", "z", Some(2), "ONE"),
        ];
        assert_eq!(library_order(&songs), tuple_order(&songs));
        let mut sorted = songs.clone();
        sort_songs(&mut sorted);
        let expected: Vec<Song> = tuple_order(&songs)
            .iter()
            .map(|&i| songs[i as usize].clone())
            .collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn permute_follows_the_order() {
        let order = [3u32, 0, 4, 1, 2, 6, 5];
        let mut items: Vec<u32> = (0..7).map(|i| i * 10).collect();
        permute(&mut items, &order);
        assert_eq!(items, vec![30, 0, 40, 10, 20, 60, 50]);
    }

    #[test]
    fn a_shorter_name_sorts_before_its_extensions() {
        let songs = vec![
            song("abc", "", None, "a"),
            song("ab", "zzz", None, "z"),
            song("abcdefghij", "", None, "a"),
            song("abcdefgh", "", None, "b"),
        ];
        assert_eq!(library_order(&songs), vec![1, 0, 3, 2]);
    }
}
