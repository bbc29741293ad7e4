//! The scheduler and task queue (sosw's Scheduler, Orchestrator, worker assistant and
//! Scavenger): chunk a business job into many labourer tasks ([`chunk`]), queue them
//! idempotently ([`store`], [`sqlite`]), and dispatch them under per-labourer concurrency
//! limits with retries, expiry and dead letters ([`dispatch`]).
//!
//! Labourers are registered `#[compose]` tasks; `#[compose(max_simultaneous_invocations = N,
//! max_attempts = N)]` sets their limits, a labourers config ([`config`]) overrides them.

pub mod chunk;
pub mod config;
pub mod dates;
pub mod job;
