//! The integration suite: one binary, real sockets only. The simulated SigmaMind
//! API and webhook receivers run inside the test process on 127.0.0.1; the
//! daemon runs in-process (`Daemon`) or as the real binary (`spawn_daemon`).

mod helpers;
mod smtp;

mod access;
mod accounts;
mod admin;
mod alerting;
mod alertmanager;
mod attacks_requests;
mod attacks_text;
mod board;
mod browser;
mod chat;
mod cli;
mod crash;
mod cycle;
mod delivery;
mod email;
mod email_oauth2;
mod failover;
mod fault_reading;
mod fault_service;
mod fault_store;
mod faults;
mod hints;
mod http_kind;
mod image;
mod kinds;
mod kubernetes;
mod lane;
mod layers;
mod monitoring;
mod opsgenie_jsm;
mod resolve;
mod retention;
mod routes;
mod schema;
mod service;
mod views;
