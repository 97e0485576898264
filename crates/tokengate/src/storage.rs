//! Storage speed tiers: concurrency caps for IO calls.

/// The IO concurrency tier of a call tagged `storage_speed = "..."`.
///
/// All calls of one tier share one cap on how many run at once (per
/// coordinator). Tagged calls are IO: they run on IO threads, never on the CPU
/// core groups, and never hold a CPU worker while they wait for their turn.
///
/// | tier       | default cap |
/// |------------|-------------|
/// | `Slow`     | 10          |
/// | `Moderate` | 25          |
/// | `Fast`     | 50          |
/// | `Insane`   | 70          |
///
/// Caps are set per coordinator with
/// [`CoordinatorBuilder::storage_cap`](crate::CoordinatorBuilder::storage_cap) and changed
/// at run time with [`Handle::set_storage_cap`](crate::Handle::set_storage_cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StorageSpeed {
    /// Slow storage: 10 at once by default.
    Slow,
    /// Moderate storage: 25 at once by default.
    Moderate,
    /// Fast storage: 50 at once by default.
    Fast,
    /// Very fast storage: 70 at once by default.
    Insane,
}

impl StorageSpeed {
    /// Every tier, slowest first.
    pub const ALL: [StorageSpeed; 4] = [
        StorageSpeed::Slow,
        StorageSpeed::Moderate,
        StorageSpeed::Fast,
        StorageSpeed::Insane,
    ];

    /// The tier's default cap.
    pub const fn default_cap(self) -> usize {
        match self {
            StorageSpeed::Slow => 10,
            StorageSpeed::Moderate => 25,
            StorageSpeed::Fast => 50,
            StorageSpeed::Insane => 70,
        }
    }

    /// The tier's name as the attribute spells it (uppercase).
    pub const fn as_str(self) -> &'static str {
        match self {
            StorageSpeed::Slow => "SLOW",
            StorageSpeed::Moderate => "MODERATE",
            StorageSpeed::Fast => "FAST",
            StorageSpeed::Insane => "INSANE",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

crate::name::names!(StorageSpeed, "storage speed");

/// With the `serde` feature: serializes as [`as_str`](StorageSpeed::as_str).
#[cfg(feature = "serde")]
impl serde::Serialize for StorageSpeed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
