//! [`Error`]: why [`serve`](crate::serve) could not start a dashboard.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::secret::MIN_TOKEN_LEN;

/// Why [`serve`](crate::serve) could not start a dashboard: an address that
/// needs an opt-in, a weak access token, a port that could not be bound, or no
/// randomness for the token.
///
/// ```
/// use tokengate_dashboard::{Config, serve};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let everywhere = Config::new().bind(([0, 0, 0, 0], 8080));
/// let refused = serve(coordinator.handle(), everywhere).await.unwrap_err();
/// assert!(refused.is_remote_refused());
/// println!("{refused}"); // says how to opt in
/// # coordinator.stop(); }
/// ```
pub struct Error {
    kind: Kind,
}

enum Kind {
    /// A non-loopback address without `allow_remote(true)`.
    RemoteNotAllowed(SocketAddr),
    /// A non-loopback address with `allow_remote(true)` but a generated token.
    RemoteWithoutToken(SocketAddr),
    /// A user-supplied token that is too short or has unsafe characters.
    BadToken { len: usize },
    /// The listening socket could not be bound.
    Bind(SocketAddr, io::Error),
    /// The operating system gave no random bytes.
    Randomness(getrandom::Error),
}

impl Error {
    pub(crate) fn remote_not_allowed(addr: SocketAddr) -> Error {
        Error {
            kind: Kind::RemoteNotAllowed(addr),
        }
    }

    pub(crate) fn remote_without_token(addr: SocketAddr) -> Error {
        Error {
            kind: Kind::RemoteWithoutToken(addr),
        }
    }

    pub(crate) fn bad_token(len: usize) -> Error {
        Error {
            kind: Kind::BadToken { len },
        }
    }

    pub(crate) fn bind(addr: SocketAddr, err: io::Error) -> Error {
        Error {
            kind: Kind::Bind(addr, err),
        }
    }

    pub(crate) fn randomness(err: getrandom::Error) -> Error {
        Error {
            kind: Kind::Randomness(err),
        }
    }

    /// Whether a non-loopback address was refused: it needs
    /// [`Config::allow_remote`](crate::Config::allow_remote) and a
    /// [`Config::token`](crate::Config::token) of the user's own.
    pub fn is_remote_refused(&self) -> bool {
        matches!(
            self.kind,
            Kind::RemoteNotAllowed(_) | Kind::RemoteWithoutToken(_)
        )
    }

    /// Whether the user-supplied access token was refused as too weak or
    /// unsafe to put in a URL.
    pub fn is_bad_token(&self) -> bool {
        matches!(self.kind, Kind::BadToken { .. })
    }

    /// Whether the address could not be bound (in use, not local, no
    /// permission); [`source`](std::error::Error::source) has the OS error.
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind(..))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::RemoteNotAllowed(addr) => write!(
                f,
                "the dashboard would listen on {addr}, which is not a loopback address; \
                 anyone who can reach it could pause and kill calls, so opt in with \
                 `Config::allow_remote(true)` and a token of your own (`Config::token`), \
                 or bind 127.0.0.1"
            ),
            Kind::RemoteWithoutToken(addr) => write!(
                f,
                "the dashboard would listen on {addr} (not loopback) with a generated token; \
                 pass a token of your own with `Config::token` (at least {MIN_TOKEN_LEN} \
                 characters, for example `openssl rand -hex 16`), kept where the people who \
                 may use the dashboard find it"
            ),
            Kind::BadToken { len } => write!(
                f,
                "the dashboard's access token has {len} characters; it needs at least \
                 {MIN_TOKEN_LEN}, each a letter, digit, `-`, `.`, `_` or `~` (try \
                 `openssl rand -hex 16`)"
            ),
            Kind::Bind(addr, err) => write!(
                f,
                "the dashboard could not listen on {addr} ({err}); choose another port, or \
                 port 0 for a free one"
            ),
            Kind::Randomness(err) => write!(
                f,
                "the operating system gave no random bytes for the dashboard's access token \
                 ({err}); pass a token with `Config::token`"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::RemoteNotAllowed(_) => "RemoteNotAllowed",
            Kind::RemoteWithoutToken(_) => "RemoteWithoutToken",
            Kind::BadToken { .. } => "BadToken",
            Kind::Bind(..) => "Bind",
            Kind::Randomness(_) => "Randomness",
        };
        f.debug_struct("Error")
            .field("kind", &kind)
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Bind(_, err) => Some(err),
            Kind::Randomness(err) => Some(err),
            _ => None,
        }
    }
}
