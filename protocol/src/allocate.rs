//! Exact proportional allocation of money in minor units: the largest remainder method.
//!
//! A return of `total` minor units is shared among members in proportion to their stakes. Each
//! member first gets the floor of her exact quota `total × stake / Σ stakes`; the minor units
//! left over (fewer than the number of members) go one each to the members with the largest
//! remainders. Ties are broken by the larger stake, then by the smaller member id, so the result
//! is a function of the inputs alone. The shares always sum to `total` exactly, and a member
//! with a larger stake never gets less than one with a smaller stake.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("the amount to share is {0}; it must not be negative")]
    NegativeTotal(i64),
    #[error("member {member}'s stake is {stake}; stakes must not be negative")]
    NegativeStake { member: String, stake: i64 },
    #[error("no member has a stake, so there is nothing to share in proportion to")]
    NoStake,
}

/// Shares `total` among the keys of `stakes` in proportion to their values.
pub fn allocate<K: Ord + Clone + std::fmt::Display>(
    total: i64,
    stakes: &BTreeMap<K, i64>,
) -> Result<BTreeMap<K, i64>, AllocError> {
    if total < 0 {
        return Err(AllocError::NegativeTotal(total));
    }
    if let Some((member, &stake)) = stakes.iter().find(|(_, s)| **s < 0) {
        return Err(AllocError::NegativeStake {
            member: member.to_string(),
            stake,
        });
    }
    let sum: i128 = stakes.values().map(|&s| i128::from(s)).sum();
    if sum == 0 {
        return Err(AllocError::NoStake);
    }
    // (key, floor, remainder, stake); i128 holds total × stake for any i64 inputs.
    let mut parts: Vec<(&K, i128, i128, i64)> = stakes
        .iter()
        .map(|(k, &s)| {
            let exact = i128::from(total) * i128::from(s);
            (k, exact / sum, exact % sum, s)
        })
        .collect();
    let given: i128 = parts.iter().map(|p| p.1).sum();
    let leftover = usize::try_from(i128::from(total) - given)
        .expect("the floors never exceed the total, and the leftover is below the member count");
    let mut order: Vec<usize> = (0..parts.len()).collect();
    // Largest remainder first; then larger stake; then the key order (ascending), which the
    // BTreeMap already gives, so a stable sort keeps it.
    order.sort_by(|&a, &b| {
        parts[b]
            .2
            .cmp(&parts[a].2)
            .then(parts[b].3.cmp(&parts[a].3))
    });
    for &i in order.iter().take(leftover) {
        parts[i].1 += 1;
    }
    Ok(parts
        .into_iter()
        .map(|(k, share, _, _)| {
            let share = i64::try_from(share).expect("a share is at most the total");
            (k.clone(), share)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SEVEN_STAKES;
    use proptest::prelude::*;

    fn stakes(list: &[(&str, i64)]) -> BTreeMap<String, i64> {
        list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn seven_uneven_stakes_share_a_return_exactly() {
        // 1,000.00 PHP among seven members whose stakes do not divide it evenly.
        let s = stakes(&SEVEN_STAKES);
        let shares = allocate(100_000, &s).unwrap();
        assert_eq!(shares.values().sum::<i64>(), 100_000);
        // Worked by hand: floors 37559, 22535, 22535, 9273, 7511, 583, 0 leave 4 units, which
        // go to the largest remainders: m-ella (0.85), m-gina (0.75), m-fe (0.67), and one of
        // the equal m-bea and m-cora (0.55 each), by member id.
        let expected = stakes(&[
            ("m-ana", 37_559),
            ("m-bea", 22_536),
            ("m-cora", 22_535),
            ("m-dina", 9_273),
            ("m-ella", 7_512),
            ("m-fe", 584),
            ("m-gina", 1),
        ]);
        assert_eq!(shares, expected);
    }

    #[test]
    fn bad_inputs_are_named() {
        assert_eq!(
            allocate(-1, &stakes(&[("m-ana", 1)])),
            Err(AllocError::NegativeTotal(-1))
        );
        assert_eq!(
            allocate(10, &stakes(&[("m-ana", 0)])),
            Err(AllocError::NoStake)
        );
        let err = allocate(10, &stakes(&[("m-ana", -5)])).unwrap_err();
        assert!(err.to_string().contains("m-ana"), "{err}");
    }

    proptest! {
        #[test]
        fn shares_sum_exactly_are_deterministic_and_monotone(
            total in 0i64..10_000_000_000,
            list in prop::collection::btree_map("m-[a-z]{1,6}", 0i64..5_000_000, 1..40),
        ) {
            prop_assume!(list.values().any(|&s| s > 0));
            let shares = allocate(total, &list).unwrap();
            prop_assert_eq!(shares.values().sum::<i64>(), total);
            prop_assert_eq!(&shares, &allocate(total, &list).unwrap());
            let sum: i128 = list.values().map(|&s| i128::from(s)).sum();
            for (k, &stake) in &list {
                let exact = i128::from(total) * i128::from(stake);
                let share = i128::from(shares[k]);
                // Within one minor unit of the exact quota.
                prop_assert!(share * sum <= exact + sum && share * sum >= exact - sum);
                for (k2, &stake2) in &list {
                    if stake > stake2 {
                        prop_assert!(shares[k] >= shares[k2], "{} > {} but {} < {}", stake, stake2, shares[k], shares[k2]);
                    }
                }
            }
        }
    }
}
