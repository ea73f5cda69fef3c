//! crisisd
pub mod domain;

