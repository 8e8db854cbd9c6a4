//! Upgrades a database written by an older layout, in place, when it opens.

use super::{Result, Store, StoreError, TREE_FEEDBACK};
use crate::records::{Feedback, Location, Song, SongId};

/// Brings a database of schema `from` up to this build's layout.
pub fn migrate(store: &Store, from: u32) -> Result<()> {
    if from < 2 {
        rekey_name_only_songs(store)?;
    }
    Ok(())
}

/// Schema 2: songs without a location get ids from their exact names. Their lyrics, look-up records and
/// feedback move with them; analyses are keyed by the lyrics, so they stay attached as they are.
fn rekey_name_only_songs(store: &Store) -> Result<()> {
    let mut moves: Vec<(SongId, SongId)> = Vec::new();
    for item in store.songs.iter() {
        let (_, song) = match item {
            Ok(x) => x,
            Err(StoreError::Decode { key, detail, .. }) => {
                tracing::warn!(%key, %detail, "migration skips an unreadable song record");
                continue;
            }
            Err(e) => return Err(e),
        };
        if song.location != Location::None {
            continue;
        }
        let new = SongId::for_names(&song.artist, &song.title, &song.album);
        if new != song.id {
            moves.push((song.id.clone(), new));
        }
    }
    if moves.is_empty() {
        return Ok(());
    }
    let mut feedback: Vec<(String, Feedback)> = Vec::new();
    for item in store.feedback.iter() {
        match item {
            Ok(x) => feedback.push(x),
            Err(StoreError::Decode { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    for (old, new) in &moves {
        let Some(mut song): Option<Song> = store.songs.get(old.as_str())? else {
            continue;
        };
        if store.songs.contains(new.as_str())? {
            // Two old songs that are one under the new rule: the one already there stays.
            continue;
        }
        song.id = new.clone();
        let lyrics = store.lyrics.get(old.as_str())?;
        store.put_songs(&[(song, lyrics)])?;
        if let Some(miss) = store.lyrics_miss.get(old.as_str())? {
            store.lyrics_miss.insert(new.as_str(), &miss)?;
        }
        for (key, record) in feedback.iter().filter(|(_, f)| &f.song_id == old) {
            let quadrant = key.rsplit('/').next().unwrap_or_default();
            let mut moved = record.clone();
            moved.song_id = new.clone();
            store
                .feedback
                .insert(&format!("{new}/{quadrant}"), &moved)?;
            store.feedback.remove(key)?;
        }
        store.remove_songs(std::slice::from_ref(old))?;
    }
    tracing::info!(
        songs = moves.len(),
        tree = TREE_FEEDBACK,
        "song ids migrated to schema 2"
    );
    Ok(())
}
