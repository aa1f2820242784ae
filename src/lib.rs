//! sla-evaluator: given what was measured, what availability did each service month reach under an
//! SLA, and what compensation is owed?
//!
//! The SLA domain is pure Rust with no transport types: [`policy`] (what a contract promises),
//! [`engine`] (evaluating measurements against it), [`classify`] (which exclusion clause an outage
//! falls under) and [`calendar`] (business days). [`catalogue`] loads the policies and calendars a
//! process serves. [`api`] is the gRPC layer around the domain, and [`server`] serves it with
//! health and reflection; [`cli`] runs the same handlers in process, or asks a server. [`input`]
//! reads measurements from files and Prometheus, and [`render`] turns a response into a claim
//! report people read: one self-contained HTML page. `tests/module_graph.rs` keeps these layers
//! apart.

pub mod allocator;
pub mod api;
pub mod calendar;
pub mod catalogue;
pub mod classify;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod engine;
pub mod input;
pub mod limits;
pub mod memory;
pub mod policy;
pub mod render;
pub mod server;
pub mod statement;
pub mod store;
pub mod strict;
pub mod telemetry;
