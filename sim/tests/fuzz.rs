//! A scene-file fuzzer: mutated and truncated versions of the shipped scenes go through
//! `Scene::parse` and validation. None may panic, and every refusal names the file and a
//! place in it (line:column, or the offending field's path).
//!
//! The suite runs 10⁴ inputs; `cargo test -p prefrontal-sim --test fuzz -- --ignored` runs 10⁶.

use std::panic::{AssertUnwindSafe, catch_unwind};

use prefrontal_sim::{Scene, SceneError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FILE: &str = "fuzzed.scene.ron";

/// The text of every shipped scene (`scenes/*.scene.ron`), in file-name order; at least one.
fn shipped() -> Vec<String> {
    Scene::files_in(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenes"))
        .expect("the shipped scenes")
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect()
}

/// Pieces a mutation may insert: RON punctuation, field-like words and awkward numbers.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "(", ")", "[", "]", ",", ":", "\"", "//", "/*", "-", ".", "e", "0", "-1", "1e39", "-0.0",
    "NaN", "inf", "-inf", "1e-45", "4294967296", "18446744073709551616", "None", "Some(",
    "true", "name", "bodies", "position", "mass", "radius", "Box", "Sphere", "x", "z", "ü",
    "\u{0}", "\n", "  ",
];

/// One random edit of `text`: delete, insert, replace a number, duplicate or truncate.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = rng.random_range(0..=chars.len());
    let mut out: Vec<char> = chars.clone();
    match rng.random_range(0..6) {
        0 => {
            let end = (at + rng.random_range(1..20)).min(chars.len());
            out.drain(at..end);
        }
        1 => {
            let piece = PIECES[rng.random_range(0..PIECES.len())];
            out.splice(at..at, piece.chars());
        }
        2 => {
            // Replace the number starting at or after `at` with an awkward one.
            if let Some(start) = (at..chars.len()).find(|&i| chars[i].is_ascii_digit()) {
                let end = (start..chars.len())
                    .find(|&i| !(chars[i].is_ascii_digit() || chars[i] == '.'))
                    .unwrap_or(chars.len());
                let piece = PIECES[rng.random_range(12..22)];
                out.splice(start..end, piece.chars());
            }
        }
        3 => {
            let end = (at + rng.random_range(1..200)).min(chars.len());
            let copy: Vec<char> = chars[at..end].to_vec();
            out.splice(at..at, copy);
        }
        4 => out.truncate(at),
        _ => {
            if !chars.is_empty() {
                let i = at.min(chars.len() - 1);
                out[i] = char::from(rng.random_range(0x20u8..0x7f));
            }
        }
    }
    out.into_iter().collect()
}

/// Parses `text`; panics with the input when parsing panics or an error names no place.
fn check(text: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| Scene::parse(text, FILE)));
    let result = match result {
        Ok(result) => result,
        Err(_) => panic!("Scene::parse panicked on:\n{text}"),
    };
    let Err(error) = result else {
        return;
    };
    let message = error.to_string();
    assert!(message.starts_with(FILE), "{message}");
    let placed = match &error {
        SceneError::Parse { .. } => true,
        SceneError::Invalid {
            location, field, ..
        } => location.is_some() || !field.is_empty(),
        SceneError::Io { .. } | SceneError::Folder { .. } => false,
    };
    assert!(placed, "no place in {message:?} for:\n{text}");
}

fn fuzz(inputs: usize, seed: u64) {
    let scenes = shipped();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..inputs {
        let mut text = scenes[i % scenes.len()].clone();
        for _ in 0..rng.random_range(1..4) {
            text = mutate(&text, &mut rng);
        }
        check(&text);
    }
}

#[test]
fn ten_thousand_mutated_scenes_never_panic_and_errors_name_a_place() {
    fuzz(10_000, 1);
}

#[test]
#[ignore = "a million inputs: minutes; run with --ignored"]
fn a_million_mutated_scenes_never_panic() {
    fuzz(1_000_000, 2);
}
