//! Application layer: turns commands into stored events.
//!
//! | module | owns |
//! |---|---|
//! | [`command`] | load a stream → `decide` → append with the expected version; retries, idempotency keys |

pub mod command;

pub use command::{CommandError, CommandMeta, Executed, execute, execute_all, load};
