//! The precision a process runs the encoder in is part of every analysis key: readings made in bf16 never serve
//! an f32 run, nor the reverse. (A file of its own: the precision is set for the whole process.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use moodtape::emotion::{model_key, precision, set_precision, Precision};

#[test]
fn the_precision_is_part_of_the_cache_key() {
    assert_eq!(precision(), Precision::F32);
    let exact = model_key();
    set_precision(Precision::Fast);
    let fast = model_key();
    set_precision(Precision::F32);
    assert_ne!(exact, fast);
    assert!(
        fast.starts_with(&exact) && fast.ends_with("+fast"),
        "{fast}"
    );
    // f32 keys are what they were before precision existed, so stored analyses stay valid.
    assert!(!exact.contains("fast") && !exact.contains("f32"), "{exact}");
    assert_eq!(model_key(), exact);
    assert_eq!(Precision::parse(" FAST "), Some(Precision::Fast));
    assert_eq!(Precision::parse("int4"), None);
}
