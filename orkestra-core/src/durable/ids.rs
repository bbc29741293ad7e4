//! Deterministic operation ids: a counter per parent context, hashed with the parent's id.

/// The id of the `counter`-th operation (1-based) started by the context whose id is `parent`
/// (the empty string for the execution's root context).
///
/// The same parent and counter always give the same id, in every process and on every run,
/// which is what lets a replay find the record an operation wrote before.
///
/// ```
/// use orkestra::durable::operation_id;
/// assert_eq!(operation_id("", 1), operation_id("", 1));
/// assert_ne!(operation_id("", 1), operation_id("", 2));
/// ```
pub fn operation_id(parent: &str, counter: u64) -> String {
    // Two independent FNV-1a 64 lanes give a 128-bit id: collisions are negligible even with
    // millions of operations in one execution.
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    let bytes = parent
        .as_bytes()
        .iter()
        .copied()
        .chain([0xff])
        .chain(counter.to_le_bytes());
    for byte in bytes {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(byte).wrapping_add(0x9e)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_stable_and_distinct() {
        let ids: HashSet<String> = (1..=100_000).map(|n| operation_id("p", n)).collect();
        assert_eq!(ids.len(), 100_000);
        assert_ne!(operation_id("a", 1), operation_id("b", 1));
        assert_eq!(operation_id("a", 7).len(), 32);
    }
}
