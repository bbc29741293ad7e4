//! FNV-1a hashing for the store's short ids (SipHash dominated batch and load bookkeeping).

use std::hash::{BuildHasher, Hasher};

/// Builds FNV-1a hashers.
#[derive(Clone, Copy, Default)]
pub(super) struct Fnv;

pub(super) struct FnvHasher(u64);

impl BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of `bytes`.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = Fnv.build_hasher();
    h.write(bytes);
    h.finish()
}
