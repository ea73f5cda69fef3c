//! Analysis over the whole log, apart from the read models `serve` keeps: questions a
//! head of customer service or a regulator asks after a crisis.
//!
//! | module | answers |
//! |---|---|
//! | [`cost`] | an incident, cause to cost: causes, signals, complaints, passengers, compensation per regime and currency, care owed, satisfaction |
//! | [`what_if`] | what a candidate crisis policy (service levels, spike rules) would have changed over a stretch of history |

pub mod cost;
pub mod what_if;
