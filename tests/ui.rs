//! Compile-time behaviour of the attribute macros: every supported shape compiles (`ui/pass`),
//! every mistake is a clear error spanned on the offending token (`ui/fail/*.stderr`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui` and review
//! every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
