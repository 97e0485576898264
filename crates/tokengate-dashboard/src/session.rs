//! Browser sessions: what the URL's access token is exchanged for. A session
//! is a random id in an `HttpOnly`, `SameSite=Strict` cookie, plus a CSRF
//! token the page reads once and sends with every control.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::Error;
use crate::secret;

/// How many sessions are kept; opening one more forgets the oldest (its
/// browser opens the URL with the token again). Only token holders open
/// sessions, so the bound only stops a runaway script from growing the list.
const MAX_SESSIONS: usize = 64;

/// One browser's session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// The cookie's value.
    pub(crate) id: String,
    /// What the page sends in the `X-CSRF-Token` header of each control.
    pub(crate) csrf: String,
}

/// The open sessions, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<VecDeque<Session>>,
}

impl Sessions {
    /// Opens a session, forgetting the oldest if there are too many.
    pub(crate) fn open(&self) -> Result<Session, Error> {
        let session = Session {
            id: secret::generate()?,
            csrf: secret::generate()?,
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() == MAX_SESSIONS {
            open.pop_front();
        }
        open.push_back(session.clone());
        Ok(session)
    }

    /// The session whose cookie value is `id`, if it is open.
    pub(crate) fn find(&self, id: &str) -> Option<Session> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        // Compare with every entry, in constant time each, so the answer's
        // timing says nothing about which ids exist.
        open.iter()
            .fold(None, |found, s| match secret::same(&s.id, id) {
                true => Some(s),
                false => found,
            })
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_and_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open().unwrap();
        assert_eq!(sessions.find(&first.id).unwrap().csrf, first.csrf);
        assert!(sessions.find("nope").is_none());
        assert!(sessions.find(&first.csrf).is_none());
        for _ in 0..MAX_SESSIONS {
            sessions.open().unwrap();
        }
        assert!(
            sessions.find(&first.id).is_none(),
            "the oldest is forgotten"
        );
    }
}
