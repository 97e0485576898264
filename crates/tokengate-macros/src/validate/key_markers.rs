//! Where a `#[key]` marker may go: on an argument (not `self`), written bare,
//! once per argument, in a fn whose key is made of its arguments, that is a
//! sticky fn under a `hash_policy` other than `none`, or a lead under one of
//! `fast`, `standard` or `full`. Anywhere else it would have no effect.

use syn::Meta;

use crate::args::{GuardArgs, HashPolicy, Key};
use crate::errors::Errors;
use crate::item::KeyMarker;

/// Records each misplaced or malformed marker of `markers` in `errors`, on
/// the marker.
pub(super) fn check(markers: &[KeyMarker], args: &GuardArgs, errors: &mut Errors) {
    let unused = without_effect(args);
    let mut marked: Vec<usize> = Vec::new();
    for marker in markers {
        let mut refuse = |message: &str| {
            errors.push(syn::Error::new_spanned(&marker.attr, message));
        };
        if marker.on_receiver {
            refuse(
                "`#[key]` cannot mark `self`; mark the arguments the key is made of, or mark \
                 none to key on every argument, `self` included",
            );
            continue;
        }
        if !matches!(marker.attr.meta, Meta::Path(_)) {
            refuse(
                "`#[key]` takes no arguments; write `#[key]` on each argument the key is \
                 made of",
            );
        }
        if marked.contains(&marker.index) {
            refuse("duplicate `#[key]` on one argument; remove one");
            continue;
        }
        marked.push(marker.index);
        if let Some(message) = unused {
            refuse(message);
        }
    }
}

/// Why a `#[key]` marker would have no effect under `args`, if it would.
///
/// Keys written with a value that was refused count as written, so that their
/// error is not followed by one on every marker.
fn without_effect(args: &GuardArgs) -> Option<&'static str> {
    // A `hash_policy` written with a value that was refused.
    let policy_refused = args.was_written(Key::HashPolicy) && args.hash_policy.is_none();
    let keyed = args
        .hash_policy
        .is_some_and(|policy| policy != HashPolicy::None);
    if args.was_written(Key::StickyAnchor) {
        (args.hash_policy == Some(HashPolicy::None)).then_some(
            "`#[key]` has no effect under `hash_policy = \"none\"`, where the key is the \
             anchor alone; remove `#[key]`, or choose another `hash_policy`",
        )
    } else if args.was_written(Key::ExternalCalls) {
        let takes_markers = keyed || policy_refused;
        (!takes_markers).then_some(
            "`#[key]` has no effect on a lead without a `hash_policy`: its seed comes from its \
             token id, not its arguments; add `hash_policy = \"fast\"`, `\"standard\"` or \
             `\"full\"` to seed it from the marked arguments, or remove `#[key]`",
        )
    } else {
        Some(
            "`#[key]` marks an argument of a sticky call's key, but this fn is not sticky; \
             add a `sticky_anchor`, such as `sticky_anchor = \"accounts\"`, or remove `#[key]`",
        )
    }
}
