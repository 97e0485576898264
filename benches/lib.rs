//! Shared workloads for the tokengate benchmarks.
