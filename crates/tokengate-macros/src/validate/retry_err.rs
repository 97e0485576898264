//! `retry_on = ["err"]` needs a fn that returns a `Result`: the runtime asks
//! each value whether it is an `Err`, through `Result::is_err`.
//!
//! The check is on the type as written: a path whose last segment is
//! `Result`, such as `Result<T, E>`, `std::io::Result<T>` or an alias named
//! `Result` (as crates commonly define one). A type written otherwise, an
//! alias of another name or an `impl Trait`, is refused even if it is a
//! `Result`, since a macro cannot see through it; write `Result` in the
//! signature. A path named `Result` that is not `std::result::Result` is
//! reported by rustc, on the return type.

use syn::{ReturnType, Signature, Type};

use crate::args::GuardArgs;

/// An error on the `"err"` of `retry_on`, if `args` lists it and `sig` does
/// not return a `Result`.
pub(super) fn check(sig: &Signature, args: &GuardArgs) -> Option<syn::Error> {
    let err = args.retry_err()?;
    let returns = match &sig.output {
        ReturnType::Type(_, ty) if returns_result(ty) => return None,
        ReturnType::Type(..) => "a type not written as `Result<..>`",
        ReturnType::Default => "nothing",
    };
    Some(syn::Error::new(
        err.span(),
        format!(
            "`\"err\"` in `retry_on` needs a fn that returns `Result`, to retry its `Err` \
             values, but this fn returns {returns}; return a `Result<T, E>`, or remove \
             `\"err\"`"
        ),
    ))
}

/// Whether `ty` is written as a path whose last segment is `Result`.
fn returns_result(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => returns_result(&group.elem),
        Type::Paren(paren) => returns_result(&paren.elem),
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Result"),
        _ => false,
    }
}
