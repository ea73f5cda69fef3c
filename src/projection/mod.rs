//! Projections: separate tasks that turn the committed log into read models.
//!
//! | module | owns |
//! |---|---|
//! | [`timeline`] | per incident and complaint: every event in order with its actor |
//! | [`runtime`] | the [`Projection`] trait, exactly-once application with the checkpoint in the model's own atomic batch, catch-up then live, rebuild, status and lag |
//!
//! The other read models of the projection issue get one file each beside these.

pub mod runtime;
pub mod timeline;

pub use runtime::{ModelTx, Projection, ProjectionError, ProjectionStatus, Projector, rebuild};
