//! Doc comments, attributes, visibility and inner attributes are kept on the
//! rewritten fn (`missing_docs` would fire otherwise).
#![deny(warnings, missing_docs)]

/// Guarded fns in a module, to check visibility.
pub mod imaging {
    use tokengate::task_token_guard;

    /// Blurs an image.
    ///
    /// More docs.
    #[inline]
    #[must_use = "the blurred image is the point"]
    #[task_token_guard(op = "blur", weight = "heavy")]
    pub fn blur(pixels: Vec<u8>, #[allow(unused_variables)] radius: u32) -> Vec<u8> {
        #![allow(clippy::let_and_return)]
        let out = pixels;
        out
    }

    /// An attribute after ours is kept too.
    #[task_token_guard]
    #[allow(non_snake_case)]
    pub(crate) fn Thumbnail(size: u32) -> u32 {
        size
    }
}

fn main() {
    let token = imaging::blur(vec![1, 2, 3], 2);
    assert_eq!(token.op(), "blur");
    assert!(token.wait().unwrap_err().is_no_coordinator());
    assert!(imaging::Thumbnail(8).wait().unwrap_err().is_no_coordinator());
}
