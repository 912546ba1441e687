//! Random subscribe/unsubscribe/match sequences against the subscription index, checked
//! against a brute-force scan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_subject::{subject_matches, SubjectIndex};

const TOKENS: [&str; 5] = ["a", "b", "*", ">", "c"];

fn subject(bytes: &[u8]) -> String {
    let n = (bytes.first().copied().unwrap_or(0) % 4 + 1) as usize;
    (0..n)
        .map(|i| TOKENS[bytes.get(i + 1).copied().unwrap_or(0) as usize % TOKENS.len()])
        .collect::<Vec<_>>()
        .join(".")
}

fuzz_target!(|data: &[u8]| {
    let mut index: SubjectIndex<u32> = SubjectIndex::with_cache_capacity(4);
    let mut live: Vec<(String, u32)> = Vec::new();
    for (i, op) in data.chunks(6).enumerate() {
        let s = subject(&op[1..]);
        match op[0] % 3 {
            0 => {
                if index.insert(&s, None, i as u32).is_ok() {
                    live.push((s, i as u32));
                }
            }
            1 => {
                if let Some(pos) = live.iter().position(|(ls, _)| *ls == s) {
                    let (ls, id) = live.remove(pos);
                    assert!(index.remove(&ls, None, &id));
                }
            }
            _ => {
                let literal = s.replace(['*', '>'], "z");
                let mut got: Vec<u32> = index.match_subject(&literal).plain.clone();
                let mut want: Vec<u32> = live
                    .iter()
                    .filter(|(ls, _)| subject_matches(ls, &literal))
                    .map(|(_, id)| *id)
                    .collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "subject {literal}");
            }
        }
    }
});
