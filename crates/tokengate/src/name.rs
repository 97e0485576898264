//! Names of the attribute's enumerated values (weights, storage speeds,
//! policies): parsing them ignoring case, printing them, and one error type for
//! a name that does not exist.

use std::fmt;

/// The error returned when a string names no [`Weight`](crate::Weight),
/// [`StorageSpeed`](crate::StorageSpeed) or policy.
///
/// ```
/// use tokengate::Weight;
///
/// let err = "huge".parse::<Weight>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown weight `huge`; expected one of `light`, `medium`, `heavy`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameError {
    kind: &'static str,
    input: String,
    expected: &'static [&'static str],
}

impl ParseNameError {
    pub(crate) fn new(kind: &'static str, input: &str, expected: &'static [&'static str]) -> Self {
        ParseNameError {
            kind,
            input: input.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`; expected one of ",
            self.kind, self.input
        )?;
        for (i, name) in self.expected.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}`{name}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseNameError {}

/// Implements `FromStr` (ignoring ASCII case) and `Display` for an enum with
/// `ALL`, `NAMES` and `as_str`.
macro_rules! names {
    ($ty:ident, $kind:literal) => {
        impl ::std::str::FromStr for $ty {
            type Err = $crate::ParseNameError;

            /// Parses the name as the attribute spells it, ignoring ASCII case.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| $crate::ParseNameError::new($kind, s, &$ty::NAMES))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl $ty {
            /// Every name, in the order of `ALL`.
            pub const NAMES: [&'static str; $ty::ALL.len()] = {
                let mut names = [""; $ty::ALL.len()];
                let mut i = 0;
                while i < names.len() {
                    names[i] = $ty::ALL[i].as_str();
                    i += 1;
                }
                names
            };
        }
    };
}

pub(crate) use names;
