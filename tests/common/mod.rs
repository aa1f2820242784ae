//! Shared test helpers.
#![allow(dead_code)]

pub(crate) mod browser;
pub(crate) mod claim_page;
pub(crate) mod cli;
pub(crate) mod engine;
pub(crate) mod h2raw;
pub(crate) mod postgres;
pub(crate) mod process;
pub(crate) mod prometheus;
pub(crate) mod requests;
pub(crate) mod scrape;
pub(crate) mod server;
pub(crate) mod statements;
pub(crate) mod tools;
