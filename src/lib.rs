//! crisisd
pub mod domain;
pub mod store;
