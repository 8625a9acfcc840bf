//! Attribute macros of the [`resilience`](https://docs.rs/resilience) crate.
//!
//! Depend on `resilience` and use the re-exports there; generated code names runtime items only
//! through `::resilience::__private`. The attributes themselves arrive with the macros issue.
