//! A stub owner and a scheduler to test the scheduler without a coordinator:
//! calls made here report to nobody and are never held back, so what a test
//! sees is the scheduler's own behaviour.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::{Scheduler, ThreadConfig};
use crate::token::{Cause, Cell, Header, JobRef, Owner, next_id};
use crate::{TokenState, Weight};

/// Owns test calls: hears every transition and ignores it.
pub(crate) struct Stub;

impl Owner for Stub {
    fn observe(&self, _: &Header, _: TokenState, _: TokenState, _: u64, _: bool) {}
    fn body_returned(&self, _: &Header) {}
    fn admissible(&self) -> bool {
        true
    }
    fn hold_back(&self, _: &JobRef) -> bool {
        false
    }
    fn dropped_waiting(&self, _: &JobRef) {}
    fn help(&self, _: &JobRef) -> bool {
        false
    }
    fn park(&self, timeout: Option<Duration>, _: u32) {
        std::thread::park_timeout(timeout.unwrap_or(Duration::from_millis(1)));
    }
    fn time_out_after(&self, _: &JobRef, _: Duration) {}
    fn retry_delay(&self, _: &Header, _: Cause) -> Option<Duration> {
        None
    }
    fn readmit_after(&self, _: JobRef, _: Duration) {}
    fn attempt_failed(&self, _: &Header, _: &str, _: bool) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A scheduler with `groups` groups of `workers` workers, mailboxes of
/// `mailbox` calls and lanes of `lane` calls; no threads are started.
pub(crate) fn scheduler(
    groups: usize,
    workers: usize,
    mailbox: usize,
    lane: usize,
) -> Arc<Scheduler> {
    let threads = ThreadConfig {
        prefix: "tg-unit".to_owned(),
        stack_size: None,
    };
    Arc::new(Scheduler::new(
        groups, workers, mailbox, lane, [4; 4], threads,
    ))
}

/// A `Waiting` call of `weight` that returns `value`.
pub(crate) fn waiting(weight: Weight, value: u64) -> JobRef {
    let header = Header::new(next_id(), "unit", weight, None);
    let job: JobRef = Cell::new(header, Some(Stub), move || value);
    assert!(job.transition(TokenState::Created, TokenState::Waiting));
    job
}
