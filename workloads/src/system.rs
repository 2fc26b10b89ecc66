//! The systems under test and the read modes each offers.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum System {
    Etcd,
    #[cfg_attr(feature = "clap", value(name = "zookeeper"))]
    ZooKeeper,
    Consul,
}

impl System {
    pub const ALL: [System; 3] = [System::Etcd, System::ZooKeeper, System::Consul];

    pub fn parse(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|x| x.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            System::Etcd => "etcd",
            System::ZooKeeper => "zookeeper",
            System::Consul => "consul",
        }
    }

    /// Read modes, the default first.
    pub fn read_modes(self) -> &'static [ReadMode] {
        match self {
            System::Etcd => &[ReadMode::Linearizable, ReadMode::Serializable],
            System::ZooKeeper => &[ReadMode::Sync, ReadMode::Plain],
            System::Consul => &[ReadMode::Consistent, ReadMode::Default, ReadMode::Stale],
        }
    }

    pub fn read_mode(self, s: &str) -> Result<ReadMode, String> {
        self.read_modes()
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = self.read_modes().iter().map(|m| m.name()).collect();
                format!("--read-mode {s}: {} reads are {}", self.name(), names.join(", "))
            })
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a read is served, per system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReadMode {
    /// etcd: through the leader's read index.
    Linearizable,
    /// etcd: from the local member's state; may be stale.
    Serializable,
    /// ZooKeeper: `sync()` first, then getData.
    Sync,
    /// ZooKeeper: getData from whichever server the session is on; may be stale.
    Plain,
    /// Consul `?consistent`: the leader confirms it still leads.
    Consistent,
    /// Consul's default: the leader answers without confirming.
    Default,
    /// Consul `?stale`: any server answers; may be stale.
    Stale,
}

impl ReadMode {
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Linearizable => "linearizable",
            ReadMode::Serializable => "serializable",
            ReadMode::Sync => "sync",
            ReadMode::Plain => "plain",
            ReadMode::Consistent => "consistent",
            ReadMode::Default => "default",
            ReadMode::Stale => "stale",
        }
    }
}
