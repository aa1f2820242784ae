//! sla-evaluator: given what was measured, what availability did each service month reach under an
//! SLA, and what compensation is owed?
//!
//! The SLA domain is pure Rust with no transport types: [`policy`] (what a contract promises),
//! [`engine`] (evaluating measurements against it), [`classify`] (which exclusion clause an outage
//! falls under) and [`calendar`] (business days). [`api`] is the gRPC layer around it, and
//! [`server`] serves it with health and reflection. [`render`] turns a response into a claim
//! report people read: one self-contained HTML page.

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
pub mod strict;
pub mod telemetry;
