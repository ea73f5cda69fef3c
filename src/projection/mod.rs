//! Projections: separate tasks that turn the committed log into read models.
//!
//! | module | owns |
//! |---|---|
//! | [`runtime`] | the [`Projection`] trait, exactly-once application with the checkpoint in the model's own atomic batch, catch-up then live, rebuild, status and lag |
//!
//! Read models (one file each) come with the projection issue.

pub mod runtime;

pub use runtime::{ModelTx, Projection, ProjectionError, ProjectionStatus, Projector, rebuild};
