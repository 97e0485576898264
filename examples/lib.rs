//! Shared helpers for the tokengate examples.
