//! Shared test helpers.
#![allow(dead_code)]

pub mod engine;
pub mod h2raw;
pub mod requests;
pub mod scrape;
pub mod server;
pub mod tools;
