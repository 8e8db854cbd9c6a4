//! The lab's commands on small fixtures written here: `eval musicmood` and `eval moods` count exactly the
//! examples of their split, and `train` runs end to end on tiny datasets. They use the real encoder (fetched once
//! into the shared model cache) but check shapes and counts, never quality: quality lives in the eval commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{ensure_model, moodtape, ok_json, succeeded};

const HAPPY: [&str; 3] = [
    "Sunshine on my face, I'm dancing down the street\nEverybody's smiling and the world is sweet",
    "We laugh all night, my friends are here with me\nThis is the best day, happy as can be",
    "Golden morning, love is in the air\nI feel so lucky that you're always there",
];
const SAD: [&str; 3] = [
    "Empty room and the rain on the glass\nYou are gone and the hurt won't pass",
    "I cry alone at night, nobody calls\nGrey and cold behind these silent walls",
    "Goodbye my love, the letters turn to dust\nI lost you and I lost my trust",
];

/// A MusicMood-shaped CSV with `n` songs, alternating happy and sad, one of them with a quoted comma.
fn write_musicmood(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut csv = String::from("file,artist,title,lyrics,genre,mood,year\n");
    for i in 0..n {
        let (lyrics, mood) = if i % 2 == 0 {
            (HAPPY[i / 2 % 3], "happy")
        } else {
            (SAD[i / 2 % 3], "sad")
        };
        csv.push_str(&format!(
            "TR{i:04}.h5,\"Artist, {i}\",Song {i},\"{lyrics}\nverse {i}\",Pop,{mood},2001\n"
        ));
    }
    std::fs::write(dir.join("train_lyrics_1000.csv"), csv).unwrap();
}

/// A short moods file: 3 train, 2 dev and 4 test rows.
fn write_moods(path: &Path) {
    let rows = [
        ("over the moon", 0.8, 0.6, "Q1", "train"),
        ("fuming", -0.7, 0.7, "Q2", "train"),
        ("lonely night", -0.6, -0.4, "Q3", "train"),
        ("wide awake and thrilled", 0.7, 0.7, "Q1", "dev"),
        ("heartbroken", -0.8, -0.3, "Q3", "dev"),
        ("sunday calm", 0.5, -0.6, "Q4", "test"),
        ("raging", -0.7, 0.8, "Q2", "test"),
        ("gloomy", -0.5, -0.4, "Q3", "test"),
        ("party time", 0.8, 0.8, "Q1", "test"),
    ];
    let mut tsv = String::from("text\tvalence\tarousal\tquadrant\tsplit\n");
    for (t, v, a, q, s) in rows {
        tsv.push_str(&format!("{t}\t{v}\t{a}\t{q}\t{s}\n"));
    }
    std::fs::write(path, tsv).unwrap();
}

fn eval(home: &Path, args: &[&str]) -> serde_json::Value {
    ok_json(
        moodtape(home)
            .args(["eval"])
            .args(args)
            .arg("--json")
            .current_dir(home)
            .output()
            .unwrap(),
    )
}

fn unit(v: &serde_json::Value, key: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"));
    assert!((0.0..=1.0).contains(&x), "{key} = {x}");
    x
}

#[test]
fn eval_musicmood_scores_the_dev_split_of_a_fixture() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("musicmood");
    write_musicmood(&data, 10);
    let data = data.to_str().unwrap();

    let dev = eval(home.path(), &["musicmood", "--data", data]);
    assert_eq!(dev["split"], "dev", "dev is the default: {dev}");
    assert_eq!(dev["examples"], 2, "a fifth of 10 songs: {dev}");
    let accuracy = unit(&dev, "accuracy");
    assert!([0.0, 0.5, 1.0].contains(&accuracy), "{accuracy}");
    unit(&dev, "roc_auc");

    let train = eval(
        home.path(),
        &["musicmood", "--split", "train", "--data", data],
    );
    assert_eq!(train["examples"], 8);

    let out = moodtape(home.path())
        .args(["eval", "musicmood", "--split", "test", "--data", data])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("train or dev"));
}

#[test]
fn eval_moods_scores_a_fixture_file_and_the_compiled_in_set() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("moods.tsv");
    write_moods(&file);
    let file = file.to_str().unwrap();

    let test = eval(home.path(), &["moods", "--data", file]);
    assert_eq!(
        (test["split"].as_str(), test["examples"].as_u64()),
        (Some("test"), Some(4))
    );
    let accuracy = unit(&test, "quadrant_accuracy");
    assert!(
        [0.0, 0.25, 0.5, 0.75, 1.0].contains(&accuracy),
        "{accuracy}"
    );
    for key in ["pearson_valence", "pearson_arousal"] {
        assert!(test[key].as_f64().unwrap().abs() <= 1.0 + 1e-9, "{test}");
    }
    let read: u64 = test["confusion"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|row| row.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(read, 4);
    assert_eq!(
        eval(home.path(), &["moods", "--split", "dev", "--data", file])["examples"],
        2
    );

    // The shipped set is compiled in: it is found from any working directory.
    let dev = eval(home.path(), &["moods", "--split", "dev"]);
    assert_eq!(dev["examples"], 135);
}

/// GoEmotions and EmoBank shaped files with a few rows per split.
fn write_goemotions_and_emobank(dir: &Path) {
    let go = dir.join("goemotions");
    std::fs::create_dir_all(&go).unwrap();
    let rows = [
        ("I love this so much, thank you!", "15,18"),
        ("This is infuriating and stupid", "2,3"),
        ("I'm so sad my dog died", "25,16"),
        ("What time does it start?", "7"),
        ("Okay.", "27"),
        ("Wow, I did not expect that at all", "26"),
    ];
    for split in ["train", "dev", "test"] {
        let tsv: String = rows
            .iter()
            .enumerate()
            .map(|(i, (t, l))| format!("{t}\t{l}\t{split}{i}\n"))
            .collect();
        std::fs::write(go.join(format!("{split}.tsv")), tsv).unwrap();
    }
    let eb = dir.join("emobank");
    std::fs::create_dir_all(&eb).unwrap();
    let mut csv = String::from("id,split,V,A,D,text\n");
    let sentences = [
        ("What a wonderful surprise party!", 4.2, 3.9),
        ("The report is due on Monday.", 3.0, 2.8),
        ("He was furious and screamed at them.", 1.6, 4.1),
        ("She sat alone, quiet and tired.", 2.2, 2.1),
    ];
    for split in ["train", "dev", "test"] {
        for (i, (t, v, a)) in sentences.iter().enumerate() {
            csv.push_str(&format!("{split}_{i},{split},{v},{a},3.0,\"{t}\"\n"));
        }
    }
    std::fs::write(eb.join("emobank.csv"), csv).unwrap();
}

#[test]
fn train_runs_end_to_end_on_tiny_datasets() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    write_goemotions_and_emobank(&data);
    write_musicmood(&data.join("musicmood"), 10);
    let moods = data.join("moods.tsv");
    write_moods(&moods);
    let out_prefix = home.path().join("out/heads");
    succeeded(
        moodtape(home.path())
            .args(["train", "--epochs", "1", "--limit", "6", "--goemotions"])
            .arg(data.join("goemotions"))
            .arg("--emobank")
            .arg(data.join("emobank"))
            .arg("--musicmood")
            .arg(data.join("musicmood"))
            .arg("--moods")
            .arg(&moods)
            .arg("--out")
            .arg(&out_prefix)
            .output()
            .unwrap(),
    );
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_prefix.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(card["labels"].as_array().unwrap().len(), 28);
    assert_eq!(card["tuned_layers"], serde_json::json!([3, 4, 5]));
    let data_used: Vec<&str> = card["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(data_used.len(), 4, "{data_used:?}");
    assert!(data_used.iter().any(|n| n.starts_with("MusicMood")));
    // MusicMood's 10 songs split 8/2, then cut to the limit.
    let musicmood = card["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"].as_str().unwrap().starts_with("MusicMood"))
        .unwrap();
    assert_eq!(musicmood["train_dev_test"], serde_json::json!([6, 2, 0]));
    let metrics = &card["metrics"];
    for split in ["dev", "test"] {
        for key in ["macro_f1", "pearson_valence", "moods_quadrant_accuracy"] {
            assert!(metrics[split][key].is_number(), "{split}.{key}: {metrics}");
        }
    }
    assert!(metrics["dev"]["songs_roc_auc"].is_number(), "{metrics}");
    assert_eq!(metrics["demo_songs"], 6);
    assert!(card["training"]["train_seconds"].is_number());

    // The heads file carries the tuned layers for the encoder to load.
    let st = std::fs::read(out_prefix.with_extension("safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&st).unwrap();
    let names: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    for prefix in [
        "encoder.layer.3.",
        "encoder.layer.4.",
        "encoder.layer.5.",
        "emotion.fc1",
        "va.fc2",
    ] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{prefix}");
    }
    assert!(!names.iter().any(|n| n.starts_with("encoder.layer.2.")));
}
