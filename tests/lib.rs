//! Shared helpers for the tokengate integration tests.
