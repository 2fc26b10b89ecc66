//! The workloads' own flags, on `splitbrain run`'s command line beside the rest.

use std::time::Duration;

use crate::systems;

/// `--rto`'s default: five minutes for a recovery.
pub const RTO: f64 = 300.0;

#[derive(clap::Args, Clone, Debug)]
pub struct Flags {
    /// Lock workload: the resource the critical sections write
    #[arg(long, value_enum, default_value_t = ResourceArg::Fenced)]
    pub resource: ResourceArg,
    /// Lock workload: lease / session TTL in seconds (Consul's floor is 10)
    #[arg(long, allow_negative_numbers = true, default_value_t = 3.0)]
    pub ttl: f64,
    /// Lock workload on Consul: seconds a lock stays free after its session is
    /// invalidated (Consul's own default is 15)
    #[arg(long, allow_negative_numbers = true, default_value_t = 15.0)]
    pub lock_delay: f64,
    /// Lock workload: longest think time inside a critical section, in seconds
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    pub think: f64,
    /// Where client-pause stalls a client: hold (a lock holder or leader between
    /// its read and its write), wait (queued in an acquire or a campaign, its
    /// lease lapsing meanwhile), or any (whichever it reaches first, by a coin)
    #[arg(long, value_enum, default_value_t = PauseAtArg::Hold)]
    pub client_pause_at: PauseAtArg,
    /// Election workload: jobs a leader runs in its term, one every
    /// --job-interval, before it resigns
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u32>, default_value_t = 20)]
    pub term_jobs: u32,
    /// Election workload: seconds between a leader's jobs
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    pub job_interval: f64,
    /// Election workload: seconds a failover may take, from a fault that takes
    /// the leader away to the next leader's first job [default: three leases,
    /// plus Consul's lock delay]
    #[arg(long, allow_negative_numbers = true)]
    pub failover_within: Option<f64>,
    /// How many of the processes only read (the first ones, so one per node when
    /// equal to --nodes): they keep reading while a cut-off node still answers
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<usize>, default_value_t = 0)]
    pub readers: usize,
    /// Reads: etcd linearizable|serializable, zookeeper sync|plain,
    /// consul consistent|default|stale [default: the first, the strongest]
    #[arg(long, value_parser = systems::read_mode_parser())]
    pub read_mode: Option<String>,
    /// Set workload: fail when the recovery (quorum loss to the first write and
    /// read accepted again) took longer, in seconds
    #[arg(long, allow_negative_numbers = true, default_value_t = RTO)]
    pub rto: f64,
    /// Set workload: fail when more acknowledged writes were lost [default: any
    /// number, but never a write the newest snapshot held]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<usize>, value_name = "WRITES")]
    pub rpo: Option<usize>,
    /// Watch workload on etcd: the watchers beside one per node from now, by
    /// where they start: first (revision 1), past (-100..-1 from the current
    /// revision), compaction (the latest), future (+1..+100), each `KIND=COUNT`
    /// or one; `now` is the one per node (ZooKeeper and Consul take only `now`)
    #[arg(long, value_name = "MIX", value_parser = |s: &str| workloads::watch::Mix::parse(s).map(|_| s.to_string()))]
    pub watchers: Option<String>,
}

impl Flags {
    /// `--lock-delay`: zero is Consul's own choice too.
    pub fn lock_delay(&self) -> Result<Duration, String> {
        Duration::try_from_secs_f64(self.lock_delay)
            .ok()
            .filter(|_| self.lock_delay <= *crate::flags::SECONDS.end())
            .ok_or_else(|| format!("--lock-delay {}: use 0 to 86400 seconds", self.lock_delay))
    }
}

/// `--client-pause-at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PauseAtArg {
    Hold,
    Wait,
    Any,
}

/// `--resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ResourceArg {
    /// accepts any write
    Naive,
    /// rejects a read or write whose token is below the highest it has seen
    Fenced,
}
