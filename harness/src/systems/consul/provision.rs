//! Which Consul a run gets: bullseye's 1.8.7 fetched into the cache, or an
//! operator's `--binary`.

use std::path::Path;
use std::process::Command;

use crate::provision::{Binary, cache_dir, fetched_once};
use crate::systems::Provided;

pub const VERSIONS: &[Provided] = &[Provided {
    version: "1.8.7",
    suite: "bullseye",
    installed: None,
    upgrades_to: None,
}];

/// Runs `<path> version` and returns "X.Y.Z".
pub fn version_of(path: &Path) -> Result<String, String> {
    let out = Command::new(path)
        .arg("version")
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Consul v"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            format!(
                "{}: not a consul binary (no \"Consul v\" in its version)",
                path.display()
            )
        })
}

pub fn provision(version: Option<&str>, binary: Option<&Path>) -> Result<Binary, String> {
    if let Some(path) = binary {
        if !path.is_file() {
            return Err(format!("--binary {}: no such file", path.display()));
        }
        return Ok(Binary {
            path: path.to_path_buf(),
            version: version_of(path)?,
        });
    }
    if let Some(v) = version.filter(|v| !VERSIONS.iter().any(|p| p.version == *v)) {
        return Err(format!(
            "consul version {v} is not provisioned by splitbrain; use --version 1.8.7, or --binary PATH"
        ));
    }
    let path = fetched_once(
        &cache_dir(),
        "consul",
        "1.8.7",
        "bullseye",
        &["consul"],
        "usr/bin/consul",
    )?;
    Ok(Binary {
        version: version_of(&path)?,
        path,
    })
}
