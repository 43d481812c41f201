//! `actsim run`: the command line → a [`Context`] and [`run::Options`], a runtime, the run,
//! its summary (human lines, or one JSON document) and its exit code (see `run`'s docs).

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::{Error, exit};
use crate::run::{self, summary};
use crate::system::process::Process;
use crate::ui::{Format, Ui};

fn options(args: RunArgs) -> run::Options {
    run::Options {
        event: args.event,
        workflows: args.workflows,
        job: args.job,
        platform_image: args.platform_image,
        in_container: args.in_container,
        no_pull: args.no_pull,
        idle_timeout: args.idle_timeout,
        timeout: args.timeout,
        log_dir: args.log_dir,
        no_preflight: args.no_preflight,
        act_args: args.act_args,
    }
}

pub fn main(args: RunArgs, process: &Process) -> ExitCode {
    let (format, verbose, quiet) = (args.format, args.verbose, args.quiet);
    let ui = Ui::new(process, format, verbose, quiet);
    let opts = options(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ui.error(&Error::failed(
                format!("cannot start the async runtime: {e}"),
                None,
            ));
            return ExitCode::from(exit::FAILED);
        }
    };
    let mut doc = summary::Document::default();
    let error = match Context::resolve(process, &run::request(&opts, format, verbose, quiet)) {
        Ok(ctx) => runtime.block_on(run::run(&ctx, &opts, &mut doc)),
        Err(e) => {
            doc.exit_code = e.exit_code();
            Some(e)
        }
    };
    if let Some(e) = &error {
        doc.reason = Some(crate::error::chain(e));
    }
    summary::human(&ui, &doc);
    if let Some(e) = &error {
        ui.error(e);
    }
    if format == Format::Json {
        ui.json(&doc);
    }
    ExitCode::from(doc.exit_code)
}
