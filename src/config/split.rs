//! split: stub, filled in next.
