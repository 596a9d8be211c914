//! `wxpay`: call any WeChat Pay APIv3 endpoint from a shell, signed and verified.
//!
//! ```text
//! wxpay v3.payscore.serviceorder._out_order_no_.sync -p out_order_no=1234323JKHDFE1243252 \
//!   -d '{"appid":"wxd678efh567hg6787","service_id":"500001","type":"Order_Paid","detail":{"paid_time":"20091225091210"}}'
//! ```
//!
//! With no credentials it talks to the embedded sandbox; `wxpay --help` documents the URI
//! forms, the credentials and config file, the output and the exit codes.
//!
//! Modules: [`cli`] (options and help), [`credentials`] (flags, environment, config file,
//! sandbox), [`call`] (build, sign, send, print), [`serve`] (`wxpay sandbox`), [`crt`] (`wxpay crt`),
//! [`catalog`] (`wxpay list`, `wxpay describe`), [`bill`] (`wxpay bill`), [`upload`] (`-F`), [`output`]
//! (request and answer text), [`json`] (order-keeping JSON layout), [`failure`] (messages
//! and exit codes).

#![forbid(unsafe_code)]
// The doc comments on the clap types are the `--help` text, written for a terminal:
// `<SERIAL>` and bare URLs read right there, and backticks would print as backticks.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

mod bill;
mod call;
mod catalog;
mod cli;
mod credentials;
mod crt;
mod failure;
mod json;
mod output;
mod serve;
mod upload;

use std::process::ExitCode;

use cli::Command;
use failure::{Exit, Failure};

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // One thread is plenty for one request (and the in-process sandbox beside it).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Failure::new(Exit::Other, format!("cannot start the async runtime: {e}"))
                .report()
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Some(Command::Sandbox(args)) => serve::run(args).await,
            Some(Command::Crt(args)) => crt::run(args).await,
            Some(Command::List(args)) => catalog::list(args),
            Some(Command::Describe(args)) => catalog::describe(args),
            Some(Command::Bill(args)) => bill::run(args).await,
            None => call::run(cli.call).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
