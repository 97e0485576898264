//! Regression tests, one module per issue, named after it. Each test failed
//! on the code before its fix.

mod issue8;
