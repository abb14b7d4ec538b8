//! Black-box tests of clientd through real HTTP. Every behavioural test runs twice: once on
//! SQLite and once on Postgres (a fresh database per test), via `on_both_stores!`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod abuse;
mod audit;
mod auth;
mod autopilot;
mod binary;
mod cli;
mod clients;
mod coherence;
mod credentials;
mod errors;
mod feed;
mod finding;
mod hostile;
mod idempotency;
mod least_privilege;
mod migrations;
mod oauth;
mod openapi;
mod ops;
mod packaging;
mod patch;
mod secrets;
mod store_contract;
mod tenants;
mod tokens;
