//! `splitbrain versions`: every version each system runs here, where it comes
//! from, whether it is here already, and the documented upgrade paths between
//! them (what `--nemesis upgrade --from V1 --to V2` takes).

use crate::provision::cache_dir;
use crate::systems;

#[derive(clap::Args)]
pub struct Args {
    /// Systems, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_parser = systems::system_parser())]
    system: Vec<String>,
    /// Provision every version listed now, fetching what is missing (before
    /// going offline, or building images)
    #[arg(long)]
    fetch: bool,
}

pub fn run(args: &Args) -> Result<u8, String> {
    let names: Vec<String> = if args.system.is_empty() {
        systems::names().into_iter().map(String::from).collect()
    } else {
        args.system.clone()
    };
    let cache = cache_dir();
    let mut failed = 0;
    println!("{:<10} {:<8} {:<16} here", "system", "version", "from");
    for name in &names {
        let system = systems::find(name)?;
        for p in system.versions() {
            let cached = cache.join(system.name()).join(p.version);
            let mut here = match p.installed.filter(|f| std::path::Path::new(f).is_file()) {
                Some(file) => format!("installed ({file})"),
                None if cached.exists() => format!("fetched ({})", cached.display()),
                None => "fetched on first use".to_string(),
            };
            if args.fetch {
                here = match system.provision(Some(p.version), None) {
                    Ok(db) => format!("ready ({})", db.binary().display()),
                    Err(e) => {
                        failed += 1;
                        format!("FAILED: {e}")
                    }
                };
            }
            println!(
                "{:<10} {:<8} {:<16} {here}",
                system.name(),
                p.version,
                format!("Debian {}", p.suite)
            );
        }
    }
    println!();
    println!("documented upgrade paths (--nemesis upgrade --from V1 --to V2):");
    for name in &names {
        let system = systems::find(name)?;
        let steps: Vec<String> = system
            .versions()
            .iter()
            .filter_map(|p| Some(format!("{} -> {}", p.version, p.upgrades_to?)))
            .collect();
        let paths = if steps.is_empty() {
            "none between the versions here; --to-binary takes an operator's build".to_string()
        } else {
            steps.join(", ")
        };
        println!("  {:<10} {paths}", system.name());
    }
    Ok(if failed > 0 { crate::EXIT_ERROR } else { 0 })
}
