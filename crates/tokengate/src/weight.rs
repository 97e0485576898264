//! How heavy a guarded call is, and therefore which lane and home core groups serve it.

/// The weight class of a guarded call.
///
/// A weight picks the lane a call waits in and the *home* core groups that serve
/// that lane first (see the scheduler design note in the crate docs). Under
/// contention each weight keeps the capacity of its home groups; when other lanes
/// are idle any weight may use every core.
///
/// | weight  | home core groups (1-based), `N` groups                    |
/// |---------|-----------------------------------------------------------|
/// | `Heavy` | group 1                                                   |
/// | `Medium`| groups 2..=N (group 1 when `N == 1`)                      |
/// | `Light` | groups 3..=N (group 2 when `N == 2`, group 1 when `N == 1`) |
///
/// # Examples
///
/// ```
/// use tokengate::Weight;
///
/// assert_eq!("heavy".parse::<Weight>().unwrap(), Weight::Heavy);
/// assert_eq!(Weight::default(), Weight::Medium);
/// assert_eq!(Weight::Light.to_string(), "light");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Weight {
    /// Short calls; served first by core groups 3 and up.
    Light,
    /// The default; served first by core groups 2 and up.
    #[default]
    Medium,
    /// Long or CPU-hungry calls; served first by core group 1.
    Heavy,
}

impl Weight {
    /// Every weight, lightest first.
    pub const ALL: [Weight; 3] = [Weight::Light, Weight::Medium, Weight::Heavy];

    /// The weight's name as the attribute spells it: `"light"`, `"medium"` or `"heavy"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Weight::Light => "light",
            Weight::Medium => "medium",
            Weight::Heavy => "heavy",
        }
    }

    /// A dense index, `0..3`, used for per-lane tables.
    pub(crate) const fn index(self) -> usize {
        match self {
            Weight::Light => 0,
            Weight::Medium => 1,
            Weight::Heavy => 2,
        }
    }
}

crate::name::names!(Weight, "weight");

/// With the `serde` feature: serializes as [`as_str`](Weight::as_str).
#[cfg(feature = "serde")]
impl serde::Serialize for Weight {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
