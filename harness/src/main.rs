//! `splitbrain`: chaos tests and linearizability checks for coordination services.

mod alloc;
mod bench;
mod check;
mod cut;
mod drill;
mod flags;
#[cfg(test)]
mod fuzz_toml;
mod provision;
mod report;
mod run;
mod runbook;
mod runtime;
mod scenario;
mod serve;
mod suite;
mod systems;
mod upgrade;
mod versions;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Exit code for usage and input errors (0 valid, 1 invalid, 2 unknown).
pub const EXIT_ERROR: u8 = 3;

#[derive(Parser)]
#[command(
    name = "splitbrain",
    version,
    about = "Chaos tests and linearizability checks for etcd, ZooKeeper and Consul"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Check histories for linearizability. Exit 0 valid, 1 invalid, 2 unknown, 3 error.
    Check(check::Args),
    /// Run a test against a real cluster: workload, faults, heal, check.
    /// Exit 0 valid, 1 invalid, 2 unknown, 3 setup error.
    Run(Box<run::Args>),
    /// The stuck-quorum recovery drill on a real cluster: lose a minority, then
    /// the quorum, recover with a runbook, verify. Judged by RTO, RPO and the
    /// checks. Exit 0 all held, 1 not (the reason said), 3 error.
    Drill(Box<drill::Args>),
    /// Run a matrix of tests from a TOML file, one after another, with one JUnit
    /// file for all. Exit 0 every test as expected, 1 one was not, 2 unknown, 3 error.
    Suite(suite::Args),
    /// The results browser on 127.0.0.1: every run, its verdict, report and files.
    Serve(serve::Args),
    /// The versions of each system splitbrain provisions, where each comes from,
    /// which are here already, and the documented upgrade paths.
    Versions(versions::Args),
    /// Remove namespaces, processes and links that killed runs left behind.
    Clean,
    /// Write report.html again from a run folder (test.json, history.jsonl, results.json).
    Report {
        /// The run folder: DIR/<test>/<timestamp>, or its `latest` link
        run_dir: std::path::PathBuf,
    },
    /// Time the checker on the shared histories and on generated large ones.
    Bench(bench::Args),
    /// Local images for the docker runtime (no registry needed).
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// A process whose clocks `bench --clock` skews (answers lines on stdin).
    #[command(hide = true)]
    ClockProbe,
    /// `$SB_NODE` inside a drill's runbook: start, stop, kill or wait for nodes, mark steps.
    #[command(hide = true)]
    RunbookNode {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The lock workload's resource service; `run` starts it in a namespace of its own.
    #[command(hide = true)]
    Resource {
        /// Address to listen on
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Reject reads and writes carrying a token below the highest seen
        #[arg(long)]
        fenced: bool,
    },
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Build splitbrain/<system>:<version> from the provisioned binaries (skips existing ones)
    Build {
        /// Systems, comma-separated [default: all]
        #[arg(long, value_delimiter = ',', value_parser = systems::system_parser())]
        system: Vec<String>,
        /// Version to build [default: the newest available, as `run` would pick]
        #[arg(long)]
        version: Option<String>,
        /// Rebuild images that exist
        #[arg(long)]
        force: bool,
    },
    /// List the local splitbrain images
    List,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // no arguments at all: the usage, as a mistake (exit 3), not as --help
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            return ExitCode::from(EXIT_ERROR);
        }
        Err(e) => {
            eprintln!("splitbrain: {}", usage_error(&e));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Drill(args) => drill::run(&args),
        Command::RunbookNode { args } => runbook::helper(&args),
        Command::Suite(args) => suite::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Clean => clean(),
        Command::Versions(args) => versions::run(&args),
        Command::Report { run_dir } => report::run(&run_dir),
        Command::Bench(args) => bench::run(&args),
        Command::Resource { listen, fenced } => serve_resource(listen, fenced),
        Command::ClockProbe => {
            nemeses::clock::probe::serve(0);
            Ok(0)
        }
        Command::Images { command } => images(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("splitbrain: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// A command-line error as one line: clap's first line, plus the values a flag takes.
fn usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("bad command line");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        line.push_str(&format!("; use {}", valid.join(", ")));
    } else if let Some(ContextValue::String(suggested)) = e.get(ContextKind::SuggestedArg) {
        line.push_str(&format!("; did you mean {suggested}?"));
    } else if let Some(ContextValue::Strings(suggested)) = e.get(ContextKind::SuggestedSubcommand) {
        line.push_str(&format!("; did you mean {}?", suggested.join(" or ")));
    }
    line.push_str(" (see --help)");
    line
}

fn clean() -> Result<u8, String> {
    let removed = runtime::clean()?;
    if removed.is_empty() {
        println!("nothing to clean");
    }
    for r in removed {
        println!("removed {r}");
    }
    Ok(0)
}

fn serve_resource(listen: std::net::SocketAddr, fenced: bool) -> Result<u8, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(workloads::resource::serve(listen, fenced))?;
    Ok(0)
}

fn images(command: ImagesCommand) -> Result<u8, String> {
    runtime::docker::engine()
        .map_err(|e| format!("no docker engine answers ({e}); start dockerd, or use --runtime netns"))?;
    match command {
        ImagesCommand::List => print!("{}", runtime::docker::images::list()?),
        ImagesCommand::Build { system, version, force } => {
            let names = if system.is_empty() {
                systems::names().into_iter().map(String::from).collect()
            } else {
                system
            };
            for name in names {
                let system = systems::find(&name)?;
                let db = system.provision(version.as_deref(), None)?;
                let tag = systems::image(system, db.as_ref());
                eprintln!("splitbrain: image {tag} ...");
                let built = runtime::docker::images::build(&tag, &db.image_roots(), force)?;
                println!("{tag}: {}", if built { "built" } else { "exists" });
            }
            let built = runtime::docker::images::build_runner(force)?;
            println!(
                "{}: {}",
                runtime::docker::images::RUNNER,
                if built { "built" } else { "exists" }
            );
        }
    }
    Ok(0)
}
