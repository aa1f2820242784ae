//! Shared test helpers.
#![allow(dead_code)]

pub mod engine;
pub mod server;
pub mod tools;
