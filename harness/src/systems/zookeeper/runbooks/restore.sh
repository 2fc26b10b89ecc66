#!/usr/bin/env bash
# ZooKeeper restore from a copy of a server's data files (the snapshots and
# transaction logs of `version-2`, copied while it served): ZooKeeper's
# snapshots are fuzzy and replayed with the logs on load, so the copy restores
# the state as of the copy. Every server gets the same files (its myid kept),
# then all start: a new quorum on the restored state. Writes acknowledged after
# the copy are lost by design. (ZooKeeper 3.9's admin `restore` command needs a
# serving quorum and the admin server's Jetty, which splitbrain does not
# provision: this is the file-level path, 3.8's and 3.9's alike.)
set -euo pipefail
: "${SB_SNAPSHOT:?no snapshot was taken before the loss: add a snapshot step to the scenario}"
data() { local v="SB_${1^^}_DATA"; echo "${!v}/data"; }

$SB_NODE step "stop the survivors: $SB_SURVIVORS"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; done

$SB_NODE step "put $(basename "$SB_SNAPSHOT")'s files into every server's data dir"
for n in $SB_NODES; do
  rm -rf "$(data "$n")/version-2.before-restore"
  if [[ -d "$(data "$n")/version-2" ]]; then mv "$(data "$n")/version-2" "$(data "$n")/version-2.before-restore"; fi
  cp -r "$SB_SNAPSHOT" "$(data "$n")/version-2"
done

$SB_NODE step "start every server"
for n in $SB_NODES; do $SB_NODE start "$n"; done

$SB_NODE step "wait for a leader"
$SB_NODE wait $SB_NODES
