//! A caller's counters, read at once.

use std::fmt;

/// The state of a connection to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected.
    Connected,
    /// Lost; reconnecting in the background.
    Disconnected,
    /// Not connected yet.
    Pending,
}

impl ConnectionState {
    pub(crate) fn of(client: &async_nats::Client) -> ConnectionState {
        match client.connection_state() {
            async_nats::connection::State::Connected => ConnectionState::Connected,
            async_nats::connection::State::Disconnected => ConnectionState::Disconnected,
            async_nats::connection::State::Pending => ConnectionState::Pending,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionState::Connected => "connected",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Pending => "pending",
        })
    }
}

/// What a [`Caller`](crate::Caller) has done so far, from
/// [`Caller::stats`](crate::Caller::stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallerStats {
    /// Jobs submitted, including those refused at submission.
    pub submitted: u64,
    /// Jobs submitted whose outcome has not been delivered yet.
    pub in_flight: usize,
    /// Outcomes delivered (every kind).
    pub resolved: u64,
    /// Results produced by a second or later delivery of their job (its
    /// first worker died or lost the broker mid-job).
    pub redelivered: u64,
    /// Results dropped because their job had resolved already: a second
    /// result of a job that ran twice, or a late result of a killed job.
    pub duplicates_dropped: u64,
    /// Jobs that resolved as [`Outcome::WorkerLost`](crate::Outcome::WorkerLost):
    /// delivered as often as the broker allows without finishing.
    pub poison: u64,
    /// Jobs that resolved as [`Outcome::Unavailable`](crate::Outcome::Unavailable).
    pub unavailable: u64,
    /// Jobs that resolved as [`Outcome::Cancelled`](crate::Outcome::Cancelled).
    pub cancelled: u64,
    /// Result messages that could not be read (another wire format).
    pub malformed: u64,
    /// The connection to the broker now.
    pub connection: ConnectionState,
}

impl fmt::Display for CallerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CallerStats {
            submitted,
            in_flight,
            resolved,
            redelivered,
            duplicates_dropped,
            poison,
            unavailable,
            cancelled,
            malformed,
            connection,
        } = self;
        write!(
            f,
            "submitted {submitted}, in flight {in_flight}, resolved {resolved}, redelivered \
             {redelivered}, duplicates dropped {duplicates_dropped}, poison {poison}, \
             unavailable {unavailable}, cancelled {cancelled}, malformed {malformed}, broker \
             {connection}"
        )
    }
}
