//! validate: stub.
use super::LoadOptions;
use super::build::Spans;
use super::diag::Diagnostic;
use super::model::Config;
pub fn validate(_c: &Config, _s: &Spans, _o: &LoadOptions, _d: &mut Vec<Diagnostic>) {}
