//! Values of assorted types cross to a worker process and back intact.

use std::collections::BTreeMap;

use tokengate_tests::{builder, value, with_coordinator};

use crate::fns::{self, Point, Shape};

#[test]
fn numbers_strings_and_floats_round_trip() {
    with_coordinator(builder("p-numbers"), |_| {
        assert_eq!(value(fns::square(12)), 144);
        assert_eq!(
            value(fns::square(u32::MAX as u64)),
            (u32::MAX as u64).pow(2)
        );
        assert_eq!(value(fns::shout("héllo ".into(), 2)), "HÉLLO HÉLLO ");
        assert_eq!(value(fns::shout(String::new(), 3)), "");
        assert_eq!(
            value(fns::stats(vec![1.5, -2.0, 4.25])),
            (3.75, 1.25, Some(4.25))
        );
        assert_eq!(value(fns::stats(Vec::new())), (0.0, 0.0, None));
        assert_eq!(value(fns::add_pair((2, 3), -4)), -20);
    });
}

#[test]
fn structs_enums_maps_and_results_round_trip() {
    with_coordinator(builder("p-structs"), |_| {
        let p = |x, y, label: &str| Point {
            x,
            y,
            label: label.to_owned(),
        };
        let shapes = [
            (Shape::Empty, Shape::Empty),
            (Shape::Dot(p(3, 4, "a")), Shape::Dot(p(-3, 4, "a"))),
            (
                Shape::Line {
                    from: p(1, 2, "from"),
                    to: p(-5, 6, "to"),
                },
                Shape::Line {
                    from: p(-1, 2, "from"),
                    to: p(5, 6, "to"),
                },
            ),
            (
                Shape::Poly(vec![p(i64::MIN + 1, 0, ""), p(7, i64::MAX, "ω")]),
                Shape::Poly(vec![p(i64::MAX, 0, ""), p(-7, i64::MAX, "ω")]),
            ),
        ];
        for (shape, mirrored) in shapes {
            assert_eq!(value(fns::mirror(shape)), mirrored);
        }
        assert_eq!(value(fns::parse(" -42 ".into())), Ok(-42));
        let err = value(fns::parse("forty".into())).unwrap_err();
        assert!(err.starts_with("`forty`: invalid digit"), "{err}");
        let counts = value(fns::word_count("a b a c a".into()));
        assert_eq!(
            counts,
            BTreeMap::from([("a".into(), 3), ("b".into(), 1), ("c".into(), 1)])
        );
    });
}

#[test]
fn large_byte_payloads_round_trip() {
    with_coordinator(builder("p-bytes"), |_| {
        for len in [0usize, 1, 4095, 1 << 20, 8 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut expected = data.clone();
            expected.reverse();
            let back = value(fns::reverse_bytes(data));
            assert_eq!(back.len(), len);
            assert!(back == expected, "{len} bytes came back changed");
        }
    });
}

#[test]
fn unit_returning_fns_run_for_their_effect() {
    let dir = crate::scratch_dir("unit");
    with_coordinator(builder("p-unit"), |_| {
        let path = dir.join("touched");
        value(fns::touch(path.display().to_string()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "touched\n");
    });
}

#[test]
fn calls_run_in_another_process() {
    with_coordinator(builder("p-where").process_workers(2), |coordinator| {
        let pid = value(fns::pid());
        assert_ne!(pid, std::process::id());
        assert!(coordinator.worker_processes().contains(&pid));
        assert!(!tokengate::process::is_worker_process());
    });
}
