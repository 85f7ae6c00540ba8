//! Unit tests of the prefix index's choices (the KV side is exercised by `tests/prefix_reuse.rs`).

use super::*;

fn slots(caches: &[&[u32]]) -> Vec<Slot> {
    (caches.iter().enumerate())
        .map(|(i, c)| {
            let mut s = Slot::new(i);
            s.cache = c.to_vec();
            s
        })
        .collect()
}

fn index(align: usize, entries: &[(u32, &[u32], u64)]) -> PrefixIndex {
    let mut ix = PrefixIndex::new(8, 16, align, 1 << 20);
    for &(seq, tokens, last_used) in entries {
        ix.free_seqs.retain(|&s| s != seq);
        ix.entries.push(Entry {
            seq,
            tokens: tokens.to_vec(),
            last_used,
        });
    }
    ix
}

#[test]
fn alignment_is_the_micro_batch_when_it_divides_the_batch() {
    assert_eq!(reuse_alignment(2048, 512), 512);
    assert_eq!(reuse_alignment(2048, 2048), 2048);
    assert_eq!(reuse_alignment(2048, 4096), 2048);
    assert_eq!(reuse_alignment(1000, 384), 1000);
    assert_eq!(reuse_alignment(0, 0), 1);
}

#[test]
fn reuse_is_rounded_down_to_the_alignment() {
    let prompt: Vec<u32> = (0..20).collect();
    let mut ix = index(4, &[(8, &prompt[..11], 0)]);
    let s = slots(&[&[], &[]]);
    // 11 common tokens -> 8.
    assert_eq!(ix.best(&s, 0, &prompt, 0, 1), Some((8, 8)));
    // Not longer than what the slot keeps by itself.
    assert_eq!(ix.best(&s, 0, &prompt, 8, 1), None);
    // The last prompt token is always decoded again: a 9-token prompt reuses at most 8 -> 8.
    assert_eq!(ix.best(&s, 0, &prompt[..9], 0, 1), Some((8, 8)));
    assert_eq!(ix.best(&s, 0, &prompt[..8], 0, 1), Some((8, 4)));
}

#[test]
fn another_slots_sequence_is_a_source_and_entries_win_ties() {
    let prompt: Vec<u32> = (0..20).collect();
    let s = slots(&[&prompt[..19], &prompt[..13], &[]]);
    let mut ix = index(4, &[(8, &prompt[..8], 0)]);
    // Slot 0 (own) is never a source; slot 1 holds 12 aligned tokens.
    assert_eq!(ix.best(&s, 0, &prompt, 0, 1), Some((1, 12)));
    let mut ix = index(4, &[(9, &prompt[..12], 0)]);
    assert_eq!(ix.best(&s, 0, &prompt, 0, 1), Some((9, 12)));
    assert_eq!(ix.entries[0].last_used, 1, "a hit marks the entry used");
}

#[test]
fn nothing_when_disabled_or_no_common_prefix() {
    let ix = PrefixIndex::new(4, 64, 512, 0);
    assert!(!ix.enabled());
    assert!(ix.free_seqs.is_empty());
    let mut ix = index(1, &[(8, &[5, 6, 7], 0)]);
    assert_eq!(ix.best(&slots(&[&[]]), 0, &[1, 2, 3], 0, 1), None);
}

#[test]
fn labels() {
    assert_eq!(ReuseSource::Slot.label(), "slot");
    assert_eq!(ReuseSource::PrefixCache.label(), "prefix_cache");
}
