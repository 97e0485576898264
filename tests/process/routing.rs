//! What routing tags and nested calls mean for process-pool calls (see the
//! `tokengate::process` docs): sticky domains and leads are the parent's;
//! guarded calls made inside a worker run inline there.

use std::collections::HashMap;

use tokengate_tests::{builder, value, with_coordinator};

use crate::fns;

#[test]
fn sticky_members_run_one_at_a_time_in_order_across_processes() {
    with_coordinator(builder("p-sticky").process_workers(2), |coordinator| {
        let tokens: Vec<_> = (0..12u32).map(|i| fns::sticky_span(i % 2, 15)).collect();
        let spans: Vec<_> = tokens.into_iter().map(value).collect();
        let mut by_key: HashMap<u32, Vec<(u128, u128)>> = HashMap::new();
        for (key, start, end, pid) in spans {
            assert_ne!(pid, std::process::id());
            by_key.entry(key).or_default().push((start, end));
        }
        for (key, spans) in by_key {
            assert_eq!(spans.len(), 6);
            for pair in spans.windows(2) {
                assert!(
                    pair[0].1 <= pair[1].0,
                    "key {key}: a member started before the previous one ended: {pair:?}"
                );
            }
        }
        assert_eq!(coordinator.stats().sticky_domains, 0);
    });
}

#[test]
fn guarded_calls_inside_a_worker_run_inline_there() {
    with_coordinator(builder("p-nested").process_workers(1), |coordinator| {
        let (outer, inner, (there, in_worker)) = value(fns::nested(7));
        assert_ne!(outer, std::process::id());
        assert_eq!(inner, 49);
        assert_eq!(there, outer, "the thread call ran in the same worker");
        assert!(in_worker);
        // Only the outer call went through this coordinator.
        let stats = coordinator.stats();
        assert_eq!(stats.op("p_nested").unwrap().counts.completed, 1);
        assert!(stats.op("p_square").is_none() && stats.op("t_where").is_none());
    });
}

#[test]
fn a_process_lead_keeps_its_children_in_its_worker() {
    with_coordinator(builder("p-lead").process_workers(2), |coordinator| {
        for _ in 0..4 {
            let (lead, child) = value(fns::lead());
            assert_eq!(lead, child);
            assert_ne!(lead, std::process::id());
        }
        assert_eq!(coordinator.stats().lead_domains, 0);
    });
}
