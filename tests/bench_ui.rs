//! `moodtape bench ui` on a small generated library: it runs and reports every figure (never timed here: the
//! figures are the bench's to report, not a test's to hold).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{moodtape, ok_json};

#[test]
fn bench_ui_reports_first_frame_memory_and_both_matchers() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("bench");
    let run = || {
        ok_json(
            moodtape(home.path())
                .args(["bench", "ui", "--songs", "2000", "--json", "--dir"])
                .arg(&dir)
                .output()
                .unwrap(),
        )
    };
    let v = run();
    assert_eq!(v["songs"], 2000);
    assert_eq!(v["generated"], true);
    let analyzed = v["analyzed"].as_u64().unwrap();
    assert!(analyzed > 0 && analyzed < 2000, "{analyzed} analyzed");
    assert_eq!(v["terminal"], "160x48");
    assert!(v["first_frame_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["first_frame_steps"].as_array().unwrap().len(), 3);
    for key in ["after_first_frame", "after_moods"] {
        let rss = v[key]["rss_mb"].as_f64().unwrap();
        let peak = v[key]["peak_rss_mb"].as_f64().unwrap();
        assert!(rss > 0.0 && peak >= rss, "{key}: {}", v[key]);
    }
    let queries = v["queries"].as_array().unwrap().len();
    let filter = v["filter"].as_array().unwrap();
    let names: Vec<&str> = filter
        .iter()
        .map(|f| f["matcher"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fuzzy-matcher", "nucleo-matcher"]);
    for f in filter {
        let k = &f["keystroke"];
        assert!(k["samples"].as_u64().unwrap() >= queries as u64);
        let (mean, p95, max) = (
            k["mean_ms"].as_f64().unwrap(),
            k["p95_ms"].as_f64().unwrap(),
            k["max_ms"].as_f64().unwrap(),
        );
        assert!(mean > 0.0 && p95 <= max && mean <= max, "{k}");
        assert_eq!(f["found"].as_array().unwrap().len(), queries);
        assert_eq!(f["top"].as_array().unwrap().len(), queries);
    }
    // Some query finds songs, and both matchers agree on which query finds none.
    assert!(filter[0]["found"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_u64() > Some(0)));
    for (a, b) in filter[0]["found"]
        .as_array()
        .unwrap()
        .iter()
        .zip(filter[1]["found"].as_array().unwrap())
    {
        assert_eq!(a.as_u64() == Some(0), b.as_u64() == Some(0));
    }
    // The second run reuses the library.
    let again = run();
    assert_eq!(again["generated"], false);
    assert_eq!(again["analyzed"], v["analyzed"]);
}
