//! Secrets: the access token, session ids and CSRF tokens, drawn from the
//! operating system's random source, and compared in constant time.

use crate::Error;

/// Random bytes in a generated secret: 192 bits, so guessing one is hopeless
/// even for a client that may try as often as the server answers.
const SECRET_BYTES: usize = 24;

/// The fewest characters a user-supplied access token may have: as many as a
/// 128-bit token written in hex.
pub(crate) const MIN_TOKEN_LEN: usize = 32;

/// A fresh random secret, as lowercase hex (48 characters).
pub(crate) fn generate() -> Result<String, Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(Error::randomness)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only
/// (not on where they first differ), so a client cannot find a secret byte by
/// byte by timing answers.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Why a user-supplied access token is refused, if it is: too short, or with
/// characters that would need escaping in a URL, a cookie or a header.
pub(crate) fn check_token(token: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if token.len() < MIN_TOKEN_LEN || !token.chars().all(allowed) {
        return Err(Error::bad_token(token.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_hex_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 2 * SECRET_BYTES);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        check_token(&a).unwrap();
    }

    #[test]
    fn comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(same("", ""));
    }

    #[test]
    fn user_tokens() {
        assert!(check_token(&"x".repeat(MIN_TOKEN_LEN)).is_ok());
        assert!(check_token(&"x".repeat(MIN_TOKEN_LEN - 1)).is_err());
        assert!(check_token(&format!("{}&", "x".repeat(MIN_TOKEN_LEN))).is_err());
        assert!(check_token(&format!("{} ", "x".repeat(MIN_TOKEN_LEN))).is_err());
    }
}
