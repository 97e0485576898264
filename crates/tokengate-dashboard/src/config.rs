//! [`Config`]: where the dashboard listens and who may use it.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use crate::Error;
use crate::secret;

/// Where the dashboard listens and who may use it: by default `127.0.0.1` on
/// a free port, with a random access token made at start.
///
/// ```
/// use tokengate_dashboard::Config;
///
/// let config = Config::new().port(8686);
/// assert_eq!(config.addr().to_string(), "127.0.0.1:8686");
/// ```
///
/// Anyone who can reach a dashboard and holds its token can pause, drain and
/// kill calls, so a non-loopback address needs both
/// [`allow_remote(true)`](Self::allow_remote) and a token of the user's own
/// ([`token`](Self::token)); the dashboard speaks plain HTTP, so put it behind
/// a TLS proxy before it crosses a network you do not trust.
#[derive(Clone)]
#[must_use = "a `Config` does nothing until passed to `serve`"]
pub struct Config {
    /// The address to listen on.
    addr: SocketAddr,
    /// The access token, if the user chose one.
    token: Option<String>,
    /// Whether a non-loopback address is allowed.
    allow_remote: bool,
}

impl Config {
    /// `127.0.0.1`, a free port, a generated token, loopback only.
    pub fn new() -> Config {
        Config {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: None,
            allow_remote: false,
        }
    }

    /// Listens on `port` (0: a free one, the default), keeping the address.
    pub fn port(mut self, port: u16) -> Config {
        self.addr.set_port(port);
        self
    }

    /// Listens on `addr`, for example `([127, 0, 0, 1], 8686)` or
    /// `"[::1]:0".parse::<SocketAddr>()?`. A non-loopback address also needs
    /// [`allow_remote`](Self::allow_remote) and [`token`](Self::token).
    pub fn bind(mut self, addr: impl Into<SocketAddr>) -> Config {
        self.addr = addr.into();
        self
    }

    /// Uses `token` as the access token instead of a generated one: at least
    /// 32 characters, each a letter, digit, `-`, `.`, `_` or `~` (so it needs
    /// no escaping in a URL); [`serve`](crate::serve) refuses others. Keep it
    /// as secret as a password.
    pub fn token(mut self, token: impl Into<String>) -> Config {
        self.token = Some(token.into());
        self
    }

    /// Allows a non-loopback address (with a [`token`](Self::token) of the
    /// user's own); off by default. Behind a reverse proxy, have it pass the
    /// `Host` header through: a control from the page must come from an
    /// `Origin` that matches it.
    pub fn allow_remote(mut self, allow: bool) -> Config {
        self.allow_remote = allow;
        self
    }

    /// The address it will listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Checks the address against the opt-in, and returns the access token to
    /// use (the user's, checked, or a fresh one).
    pub(crate) fn resolve_token(&self) -> Result<String, Error> {
        if !self.addr.ip().is_loopback() {
            if !self.allow_remote {
                return Err(Error::remote_not_allowed(self.addr));
            }
            if self.token.is_none() {
                return Err(Error::remote_without_token(self.addr));
            }
        }
        match &self.token {
            Some(token) => {
                secret::check_token(token)?;
                Ok(token.clone())
            }
            None => secret::generate(),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Config {
            addr,
            token,
            allow_remote,
        } = self;
        f.debug_struct("Config")
            .field("addr", addr)
            .field("token", &token.as_ref().map(|_| "<redacted>"))
            .field("allow_remote", allow_remote)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn loopback_gets_a_generated_token() {
        let token = Config::new().resolve_token().unwrap();
        assert_eq!(token.len(), 48);
        let v6 = Config::new().bind(([0, 0, 0, 0, 0, 0, 0, 1], 0));
        assert!(v6.resolve_token().is_ok());
    }

    #[test]
    fn remote_needs_the_opt_in_and_a_token() {
        let remote = Config::new().bind(([0, 0, 0, 0], 0));
        assert!(remote.resolve_token().unwrap_err().is_remote_refused());
        let opted_in = remote.clone().allow_remote(true);
        assert!(opted_in.resolve_token().unwrap_err().is_remote_refused());
        let token_only = remote.clone().token(TOKEN);
        assert!(token_only.resolve_token().unwrap_err().is_remote_refused());
        assert_eq!(opted_in.token(TOKEN).resolve_token().unwrap(), TOKEN);
    }

    #[test]
    fn weak_tokens_are_refused() {
        let err = Config::new().token("secret").resolve_token().unwrap_err();
        assert!(err.is_bad_token());
        assert!(err.to_string().contains("at least 32"), "{err}");
    }

    #[test]
    fn debug_hides_the_token() {
        let shown = format!("{:?}", Config::new().token(TOKEN));
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}
