//! Idempotency keys and content hashes: 128-bit xxh3 over unambiguous encodings.

use xxhash_rust::xxh3::Xxh3Default;

/// Keys and hashes cross the Python boundary and sit in the store as 16 big-endian bytes.
pub const KEY_BYTES: usize = 16;

/// Hashes length-prefixed fields, so ("a", "bc") and ("ab", "c") never collide by encoding.
struct FieldHasher(Xxh3Default);

impl FieldHasher {
    fn new() -> Self {
        Self(Xxh3Default::new())
    }

    fn text(&mut self, field: &str) -> &mut Self {
        self.0.update(&(field.len() as u64).to_le_bytes());
        self.0.update(field.as_bytes());
        self
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    fn finish(&self) -> u128 {
        self.0.digest128()
    }
}

/// The key under which an event is accepted at most once: (tenant, event name, id).
/// Stored keys depend on this encoding: changing it forgets every committed key.
pub fn idempotency_key(tenant: &str, name: &str, id: &str) -> u128 {
    FieldHasher::new().text(tenant).text(name).text(id).finish()
}

/// Stands for "no timestamp sent" where a hash takes an instant. No accepted instant is
/// `i64::MIN` (they lie within `timestamp::MIN_US..=MAX_US`), so it cannot collide with one,
/// and hashes of events that did send a timestamp are the ones stored before it existed.
const NOT_SENT: i64 = i64::MIN;

/// What a duplicate is compared on to tell a retry (same hash) from a conflict: only what
/// the client sent. `timestamp_us` is `None` when the server stamped the time received (a
/// resend of the same bytes later must still be a duplicate). `canonical_payload` must be
/// `json::to_canonical` text so key order and number spelling do not count as differences.
pub fn content_hash(
    name: &str,
    customer: &str,
    timestamp_us: Option<i64>,
    value: Option<f64>,
    canonical_payload: &str,
) -> u128 {
    let mut hasher = FieldHasher::new();
    hasher
        .text(name)
        .text(customer)
        .raw(&timestamp_us.unwrap_or(NOT_SENT).to_le_bytes());
    match value {
        None => hasher.raw(&[0]),
        // 0.0 == -0.0, so they must not make a conflict.
        Some(x) => hasher.raw(&[1]).raw(&(x + 0.0).to_bits().to_le_bytes()),
    };
    hasher.text(canonical_payload).finish()
}

/// The id of an Enso measurement sent without `eventId`: equal for an identical retry, so it
/// depends only on what the client sent (`timestamp_us` is `None` when it sent no timestamp).
/// `value_text` must be `json::canonical_number` text so `1` and `1.0` are one value.
/// Stored ids depend on this encoding: changing it lets a retry through as a new event.
pub fn measurement_id(
    metric: &str,
    value_text: &str,
    timestamp_us: Option<i64>,
    customer: &str,
) -> u128 {
    FieldHasher::new()
        .text(metric)
        .text(value_text)
        .raw(&timestamp_us.unwrap_or(NOT_SENT).to_le_bytes())
        .text(customer)
        .finish()
}

pub fn key_to_bytes(key: u128) -> [u8; KEY_BYTES] {
    key.to_be_bytes()
}

pub fn key_from_array(bytes: [u8; KEY_BYTES]) -> u128 {
    u128::from_be_bytes(bytes)
}

/// `None` unless `bytes` is exactly 16 long.
pub fn key_from_bytes(bytes: &[u8]) -> Option<u128> {
    bytes.try_into().ok().map(key_from_array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable() {
        // Pinned: committed keys are persisted, so the encoding must never drift.
        let key = idempotency_key(
            "default",
            "api_call",
            "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
        );
        assert_eq!(
            key,
            idempotency_key(
                "default",
                "api_call",
                "4f6cf35x-2c4y-483z-a0a9-158621f77a21"
            )
        );
        let mut encoded = Vec::new();
        for field in [
            "default",
            "api_call",
            "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
        ] {
            encoded.extend_from_slice(&(field.len() as u64).to_le_bytes());
            encoded.extend_from_slice(field.as_bytes());
        }
        assert_eq!(key, xxhash_rust::xxh3::xxh3_128(&encoded));
    }

    #[test]
    fn field_boundaries_matter() {
        assert_ne!(
            idempotency_key("t", "a", "bc"),
            idempotency_key("t", "ab", "c")
        );
        assert_ne!(
            idempotency_key("ta", "", "b"),
            idempotency_key("t", "a", "b")
        );
        assert_ne!(
            idempotency_key("t1", "n", "i"),
            idempotency_key("t2", "n", "i")
        );
        assert_ne!(idempotency_key("", "", ""), idempotency_key("", "", "\0"));
    }

    #[test]
    fn content_hash_sees_every_field() {
        let base = content_hash("n", "c", Some(1), None, "{}");
        assert_eq!(base, content_hash("n", "c", Some(1), None, "{}"));
        assert_ne!(base, content_hash("m", "c", Some(1), None, "{}"));
        assert_ne!(base, content_hash("n", "d", Some(1), None, "{}"));
        assert_ne!(base, content_hash("n", "c", Some(2), None, "{}"));
        assert_ne!(base, content_hash("n", "c", Some(1), Some(0.0), "{}"));
        assert_eq!(
            content_hash("n", "c", Some(1), Some(0.0), "{}"),
            content_hash("n", "c", Some(1), Some(-0.0), "{}")
        );
        assert_ne!(base, content_hash("n", "c", Some(1), None, "{\"a\":1}"));
        assert_ne!(
            content_hash("nc", "", Some(1), None, "{}"),
            content_hash("n", "c", Some(1), None, "{}")
        );
    }

    #[test]
    fn measurement_ids_are_pinned_and_see_every_field() {
        let mut encoded = Vec::new();
        for field in ["api_calls", "1"] {
            encoded.extend_from_slice(&(field.len() as u64).to_le_bytes());
            encoded.extend_from_slice(field.as_bytes());
        }
        encoded.extend_from_slice(&7_i64.to_le_bytes());
        encoded.extend_from_slice(&3_u64.to_le_bytes());
        encoded.extend_from_slice(b"ent");
        let id = measurement_id("api_calls", "1", Some(7), "ent");
        assert_eq!(id, xxhash_rust::xxh3::xxh3_128(&encoded));
        assert_ne!(id, measurement_id("api_call", "1", Some(7), "ent"));
        assert_ne!(id, measurement_id("api_calls", "2", Some(7), "ent"));
        assert_ne!(id, measurement_id("api_calls", "1", Some(8), "ent"));
        assert_ne!(id, measurement_id("api_calls", "1", Some(7), "ent2"));
        assert_ne!(
            measurement_id("m", "12", Some(7), "c"),
            measurement_id("m1", "2", Some(7), "c")
        );
    }

    #[test]
    fn a_stamped_time_stays_out_of_hashes_and_ids() {
        // Pinned: hashes and ids of events that sent a timestamp are unchanged.
        let mut encoded = Vec::new();
        for field in ["n", "c"] {
            encoded.extend_from_slice(&(field.len() as u64).to_le_bytes());
            encoded.extend_from_slice(field.as_bytes());
        }
        encoded.extend_from_slice(&5_i64.to_le_bytes());
        encoded.push(0);
        encoded.extend_from_slice(&2_u64.to_le_bytes());
        encoded.extend_from_slice(b"{}");
        assert_eq!(
            content_hash("n", "c", Some(5), None, "{}"),
            xxhash_rust::xxh3::xxh3_128(&encoded)
        );
        let stamped = content_hash("n", "c", None, None, "{}");
        assert_eq!(stamped, content_hash("n", "c", None, None, "{}"));
        assert_ne!(stamped, content_hash("n", "c", Some(0), None, "{}"));
        assert_ne!(
            stamped,
            content_hash("n", "c", Some(i64::MIN + 1), None, "{}")
        );
        let derived = measurement_id("m", "1", None, "c");
        assert_eq!(derived, measurement_id("m", "1", None, "c"));
        assert_ne!(derived, measurement_id("m", "1", Some(0), "c"));
    }

    #[test]
    fn bytes_round_trip_big_endian() {
        let key = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10_u128;
        let bytes = key_to_bytes(key);
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[15], 0x10);
        assert_eq!(key_from_bytes(&bytes), Some(key));
        assert_eq!(key_from_bytes(&bytes[..15]), None);
        assert_eq!(key_from_bytes(&[0; 17]), None);
    }
}
