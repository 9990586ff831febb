//! The process-wide idempotency index: committed keys plus in-flight reservations.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::error::CoreError;
use crate::idempotency::{self, KEY_BYTES};

/// The state of one key after `claim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClaimState {
    /// The key was free; the caller now holds its reservation.
    Claimed = 0,
    /// The key is committed: a duplicate.
    Committed = 1,
    /// Another request (or an earlier position in the same call) holds the reservation.
    InFlight = 2,
}

/// Committed keys and reservations behind one lock, so a claim sees both consistently.
/// Keys are u128 in a set with a one-multiply hasher: about 17 bytes per slot, ~20 to 40
/// resident bytes per key depending on where the table is in its growth.
pub struct IdempotencyIndex {
    state: Mutex<State>,
}

struct State {
    committed: HashSet<u128, KeyHasherBuilder>,
    reserved: HashSet<u128, KeyHasherBuilder>,
}

impl Default for IdempotencyIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl IdempotencyIndex {
    pub fn new() -> Self {
        let hasher = KeyHasherBuilder::random();
        Self {
            state: Mutex::new(State {
                committed: HashSet::with_hasher(hasher),
                reserved: HashSet::with_hasher(hasher),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing below can panic half-way through an update, so a poisoned lock still
        // guards consistent sets.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of committed keys.
    pub fn len(&self) -> usize {
        self.lock().committed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks keys committed in bulk (the start-up rebuild from the store).
    pub fn load(&self, keys: impl ExactSizeIterator<Item = u128>) {
        let mut state = self.lock();
        state.committed.reserve(keys.len());
        state.committed.extend(keys);
    }

    /// Like [`load`](Self::load), from a concatenation of 16-byte big-endian keys.
    pub fn load_bytes(&self, bytes: &[u8]) -> Result<(), CoreError> {
        let (blocks, rest) = bytes.as_chunks::<KEY_BYTES>();
        if !rest.is_empty() {
            return Err(CoreError::InvalidArgument(format!(
                "keys must be a concatenation of {KEY_BYTES}-byte keys; got {} bytes",
                bytes.len()
            )));
        }
        self.load(blocks.iter().copied().map(idempotency::key_from_array));
        Ok(())
    }

    /// For each key: COMMITTED, IN_FLIGHT, or CLAIMED (now reserved by the caller).
    pub fn claim(&self, keys: &[u128]) -> Vec<ClaimState> {
        let mut state = self.lock();
        keys.iter()
            .map(|key| {
                if state.committed.contains(key) {
                    ClaimState::Committed
                } else if state.reserved.insert(*key) {
                    ClaimState::Claimed
                } else {
                    ClaimState::InFlight
                }
            })
            .collect()
    }

    /// The store now holds these keys: commit them, whatever their state.
    pub fn confirm(&self, keys: &[u128]) {
        let mut state = self.lock();
        for key in keys {
            state.reserved.remove(key);
            state.committed.insert(*key);
        }
    }

    /// Drops reservations after a failed write; committed keys stay committed.
    pub fn release(&self, keys: &[u128]) {
        let mut state = self.lock();
        for key in keys {
            state.reserved.remove(key);
        }
    }
}

/// Keys are already uniform 128-bit hashes, so hashing them again is wasted work. But
/// xxh3 is unkeyed: anyone could mint ids whose keys share low bits and pile them into one
/// bucket. One multiply of the two halves, each mixed with a per-process random word,
/// keeps bucket positions unpredictable at almost no cost.
#[derive(Clone, Copy)]
pub(crate) struct KeyHasherBuilder {
    seeds: [u64; 2],
}

impl KeyHasherBuilder {
    pub(crate) fn random() -> Self {
        let random = RandomState::new();
        Self {
            seeds: [random.hash_one(0u8), random.hash_one(1u8)],
        }
    }
}

impl BuildHasher for KeyHasherBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            seeds: self.seeds,
            hash: 0,
        }
    }
}

pub(crate) struct KeyHasher {
    seeds: [u64; 2],
    hash: u64,
}

impl Hasher for KeyHasher {
    fn write_u128(&mut self, key: u128) {
        let low = (key as u64) ^ self.seeds[0];
        let high = ((key >> 64) as u64) ^ self.seeds[1];
        let product = u128::from(low) * u128::from(high);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }

    /// Only u128 keys are hashed; anything else is folded in byte by byte so the hasher
    /// stays correct if it is ever reused.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash =
                (self.hash.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClaimState::{Claimed, Committed, InFlight};

    #[test]
    fn claim_reserves_free_keys() {
        let index = IdempotencyIndex::new();
        assert!(index.is_empty());
        assert_eq!(index.claim(&[1, 2]), [Claimed, Claimed]);
        assert_eq!(index.claim(&[1, 3]), [InFlight, Claimed]);
        assert!(index.is_empty(), "reservations are not committed keys");
        index.load([1_u128].into_iter());
        assert!(!index.is_empty());
    }

    #[test]
    fn a_key_twice_in_one_claim_is_in_flight_the_second_time() {
        let index = IdempotencyIndex::new();
        assert_eq!(index.claim(&[7, 7, 8]), [Claimed, InFlight, Claimed]);
    }

    #[test]
    fn confirm_commits() {
        let index = IdempotencyIndex::new();
        index.claim(&[1]);
        index.confirm(&[1]);
        assert_eq!(index.len(), 1);
        assert_eq!(index.claim(&[1]), [Committed]);
        // Confirming an unclaimed key commits it as well.
        index.confirm(&[2, 2]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.claim(&[2]), [Committed]);
    }

    #[test]
    fn release_frees_reservations_only() {
        let index = IdempotencyIndex::new();
        index.claim(&[1, 2]);
        index.release(&[1]);
        assert_eq!(index.claim(&[1, 2]), [Claimed, InFlight]);
        index.confirm(&[1]);
        index.release(&[1]); // after confirm: a no-op
        assert_eq!(index.claim(&[1]), [Committed]);
        assert_eq!(index.len(), 1);
        index.release(&[99]); // unknown: a no-op
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn load_commits_in_bulk() {
        let index = IdempotencyIndex::new();
        let keys: Vec<u128> = (0..10_000u128).map(|i| i << 64 | i).collect();
        index.load(keys.iter().copied());
        index.load(keys[..10].iter().copied());
        assert_eq!(index.len(), 10_000);
        assert_eq!(index.claim(&[5 << 64 | 5, 10_000]), [Committed, Claimed]);
    }

    #[test]
    fn load_bytes_reads_big_endian_keys() {
        let index = IdempotencyIndex::new();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&idempotency::key_to_bytes(42));
        bytes.extend_from_slice(&idempotency::key_to_bytes(u128::MAX));
        assert!(index.load_bytes(&bytes).is_ok());
        assert_eq!(
            index.claim(&[42, u128::MAX, 43]),
            [Committed, Committed, Claimed]
        );
        assert!(index.load_bytes(&bytes[..17]).is_err());
        assert!(index.load_bytes(&[]).is_ok());
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn concurrent_claims_hand_each_key_to_one_caller() {
        let index = std::sync::Arc::new(IdempotencyIndex::new());
        let keys: Vec<u128> = (0..1000).collect();
        let winners: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let index = &index;
                    let keys = &keys;
                    scope.spawn(move || {
                        index
                            .claim(keys)
                            .iter()
                            .filter(|state| **state == Claimed)
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        assert_eq!(winners.iter().sum::<usize>(), 1000);
    }

    #[test]
    fn hasher_spreads_keys_with_equal_low_bits() {
        let builder = KeyHasherBuilder::random();
        let hashes: HashSet<u64> = (0..1000u128).map(|i| builder.hash_one(i << 64)).collect();
        assert_eq!(hashes.len(), 1000);
    }
}
