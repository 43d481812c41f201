//! `actsim run`: the command line → a [`Context`] and [`run::Options`], the run, its
//! summary (human lines, or one JSON document) and its error with the run's exit code.

use super::{Exit, Runtime};
use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::{Result, exit};
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

pub fn main(args: RunArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let (format, verbose, quiet) = (args.format, args.verbose, args.quiet);
    let ui = Ui::new(process, format, verbose, quiet);
    let opts = options(args);
    let mut doc = summary::Document::default();
    let error = match Context::resolve(process, &run::request(&opts, format, verbose, quiet)) {
        Ok(ctx) => runtime.block_on(run::run(&ctx, &opts, &mut doc))?,
        Err(e) => {
            doc.exit_code = e.exit_code();
            Some(e)
        }
    };
    if let Some(e) = &error {
        doc.reason = Some(crate::error::chain(e));
    }
    summary::human(&ui, &doc);
    if format == Format::Json {
        ui.json(&doc);
    }
    match error {
        // A run's exit code is not always its error's own (a --timeout is 124).
        Some(e) => Err(e.with_exit_code(doc.exit_code)),
        None => Ok(Exit::failed_if(doc.exit_code != exit::OK)),
    }
}
