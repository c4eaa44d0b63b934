//! The engine's rules, driven tick by tick without processes: a real store (SQLite in a
//! temporary directory), a clock that moves only when told, and worker reports made up by the
//! test. What a tick decided to send (dispatches, kills) is read from the tick instead of being
//! sent, so every rule of the engine can be checked on its own.

mod broadcast;
mod dispatch_secrets;
mod harness;
mod logic;
mod map;
mod map_reduce;
mod metrics;
mod overrides;
mod rules;
mod service;
mod trigger;
