//! An order-independent digest of a set of records, so the harness can tell whether two systems
//! produced the same output without keeping it: the record count and the wrapping sum of each
//! record's 64-bit FNV-1a hash. The Java reference computes the same digest
//! (`benches/kstreams-java/.../Digest.java`); both must change together.
//!
//! A record's hash covers its key and value with their lengths, so `("ab", "c")` and `("a", "bc")`
//! differ, and a null differs from an empty array: FNV-1a over `len(key)` as a 4-byte big-endian
//! signed integer (-1 for null), the key's bytes, then the same for the value. Timestamps and
//! headers are not part of it.

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

fn fnv_field(hash: u64, field: Option<&[u8]>) -> u64 {
    match field {
        None => fnv(hash, &(-1i32).to_be_bytes()),
        Some(bytes) => {
            let len = i32::try_from(bytes.len()).expect("a record field under 2 GiB");
            fnv(fnv(hash, &len.to_be_bytes()), bytes)
        }
    }
}

/// The hash of one record (see the module documentation).
pub fn record_hash(key: Option<&[u8]>, value: Option<&[u8]>) -> u64 {
    fnv_field(fnv_field(FNV_OFFSET, key), value)
}

/// The digest of a multiset of records: equal for the same records in any order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    /// How many records were added.
    pub count: u64,
    /// The wrapping sum of their [`record_hash`]es.
    pub sum: u64,
}

impl Digest {
    /// Adds one record.
    pub fn add(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(record_hash(key, value));
    }

    /// The digest as the reference prints it: `"<count>:<sum as unsigned decimal>"`.
    pub fn to_text(self) -> String {
        format!("{}:{}", self.count, self.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        // From the FNV reference test suite: FNV-1a 64 of "" and of "a".
        assert_eq!(fnv(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_digest_ignores_order_but_not_content() {
        let mut forward = Digest::default();
        forward.add(Some(b"k1"), Some(b"v1"));
        forward.add(Some(b"k2"), Some(b"v2"));
        let mut backward = Digest::default();
        backward.add(Some(b"k2"), Some(b"v2"));
        backward.add(Some(b"k1"), Some(b"v1"));
        assert_eq!(forward, backward);
        assert_eq!(forward.count, 2);

        assert_ne!(
            record_hash(Some(b"ab"), Some(b"c")),
            record_hash(Some(b"a"), Some(b"bc"))
        );
        assert_ne!(record_hash(Some(b"k"), None), record_hash(Some(b"k"), Some(b"")));
        assert_ne!(record_hash(None, Some(b"v")), record_hash(Some(b""), Some(b"v")));
    }

    #[test]
    fn a_known_record_hashes_to_a_fixed_value() {
        // Pinned so the Java twin (Digest.java) can be checked against the same number.
        // record_hash("key-00001", "VALUE"), computed independently (Python); Digest.java pins it too.
        assert_eq!(
            record_hash(Some(b"key-00001"), Some(b"VALUE")),
            12_265_468_564_023_119_905
        );
        let mut digest = Digest::default();
        digest.add(Some(b"key-00001"), Some(b"VALUE"));
        assert_eq!(digest.to_text(), "1:12265468564023119905");
    }
}
