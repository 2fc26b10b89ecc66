//! The iptables program partitions run, and running it inside a node's network
//! namespace. Knows nothing of clusters or grudges: the harness provisions it,
//! the partitions use it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// Makes `cmd`'s child join the network namespace open as `ns` before it execs.
/// The file must stay open until the child is spawned.
pub fn enter_netns(cmd: &mut Command, ns: &File) {
    let fd = ns.as_raw_fd();
    // SAFETY: setns is async-signal-safe; it moves only the child into the namespace.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::setns(fd, nix::libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The iptables program partitions run, with what it needs to find its libraries
/// when it is not the machine's own.
#[derive(Clone, Debug)]
pub struct Iptables {
    program: PathBuf,
    env: Vec<(&'static str, PathBuf)>,
}

impl Iptables {
    /// An iptables installed on the machine.
    pub fn system(program: PathBuf) -> Iptables {
        Iptables {
            program,
            env: Vec::new(),
        }
    }

    /// Debian's iptables unpacked (not installed) under `root`: the nft variant, its
    /// shared libraries and its extensions from there.
    pub fn unpacked(root: &Path) -> Iptables {
        let lib = root.join(format!("usr/lib/{}-linux-gnu", std::env::consts::ARCH));
        Iptables {
            program: root.join("usr/sbin/iptables-nft"),
            env: vec![("XTABLES_LIBDIR", lib.join("xtables")), ("LD_LIBRARY_PATH", lib)],
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether it runs here (`iptables -V` answers).
    pub fn works(&self) -> bool {
        self.command()
            .arg("-V")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs iptables inside the network namespace at `netns`.
    pub fn run(&self, netns: &Path, args: &[&str]) -> Result<String, Error> {
        let ns = File::open(netns).map_err(|error| Error::Io {
            path: netns.to_path_buf(),
            error,
        })?;
        let mut cmd = self.command();
        // wait at most 5 s for the xtables lock (other tools on the host may hold it)
        cmd.args(["-w", "5"]).args(args);
        enter_netns(&mut cmd, &ns);
        let out = cmd.output().map_err(|error| Error::Io {
            path: self.program.clone(),
            error,
        })?;
        if !out.status.success() {
            return Err(Error::Iptables {
                args: args.join(" "),
                netns: netns.to_path_buf(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
