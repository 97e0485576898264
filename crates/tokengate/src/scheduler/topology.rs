//! Which core groups are *home* for which weight.

use crate::Weight;

/// The home core groups (0-based) of `weight` with `groups` core groups.
///
/// Heavy from group 1, medium from group 2, light from
/// group 3 on (1-based); with fewer groups each weight falls back to the highest
/// group that exists, so every weight always has at least one home group.
pub(crate) fn home_groups(weight: Weight, groups: usize) -> std::ops::Range<usize> {
    assert!(groups > 0);
    let first = match weight {
        Weight::Heavy => 0,
        Weight::Medium => 1,
        Weight::Light => 2,
    };
    match weight {
        Weight::Heavy => 0..1,
        _ => {
            let first = first.min(groups - 1);
            first..groups
        }
    }
}

/// Whether `group` is a home group of `weight`.
pub(crate) fn is_home(weight: Weight, group: usize, groups: usize) -> bool {
    home_groups(weight, groups).contains(&group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homes_follow_the_weights_with_fallbacks() {
        assert_eq!(home_groups(Weight::Heavy, 1), 0..1);
        assert_eq!(home_groups(Weight::Medium, 1), 0..1);
        assert_eq!(home_groups(Weight::Light, 1), 0..1);

        assert_eq!(home_groups(Weight::Heavy, 2), 0..1);
        assert_eq!(home_groups(Weight::Medium, 2), 1..2);
        assert_eq!(home_groups(Weight::Light, 2), 1..2);

        assert_eq!(home_groups(Weight::Heavy, 8), 0..1);
        assert_eq!(home_groups(Weight::Medium, 8), 1..8);
        assert_eq!(home_groups(Weight::Light, 8), 2..8);
    }

    #[test]
    fn every_group_is_home_to_some_weight() {
        for groups in 1..=16 {
            for g in 0..groups {
                assert!(Weight::ALL.iter().any(|&w| is_home(w, g, groups)));
            }
        }
    }
}
