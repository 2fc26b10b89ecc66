#!/usr/bin/env bash
# UNOFFICIAL: no ZooKeeper document describes this path, and it can lose writes
# the old majority acknowledged that the survivors had not received. The
# survivors restart with a server list of only themselves and serve; then they
# restart with the full list and the lost servers come back on empty data dirs
# (their myid kept), one at a time after the survivors, so that a survivor, with
# the highest zxid, is elected and the new servers sync from it.
set -euo pipefail
cfg() { local v="SB_${1^^}_DATA"; echo "${!v}/zoo.cfg"; }
id() { echo "${1#n}"; }

$SB_NODE step "stop the survivors: $SB_SURVIVORS"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; done

$SB_NODE step "restart the survivors with a server list of only themselves"
for n in $SB_SURVIVORS; do
  cp "$(cfg "$n")" "$(cfg "$n").full"
  for l in $SB_LOST; do sed -i "/^server\.$(id "$l")=/d" "$(cfg "$n")"; done
  $SB_NODE start "$n"
done
$SB_NODE wait $SB_SURVIVORS

$SB_NODE step "restart the survivors with the full server list"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; mv "$(cfg "$n").full" "$(cfg "$n")"; done
for n in $SB_SURVIVORS; do $SB_NODE start "$n"; done

members="$SB_SURVIVORS"
for n in $SB_LOST; do
  $SB_NODE step "$n back on an empty data dir"
  $SB_NODE start "$n"
  members+=" $n"
  # a quorum forms once enough are back: wait only then
  if (( $(wc -w <<<"$members") * 2 > $(wc -w <<<"$SB_NODES") )); then $SB_NODE wait $members; fi
done
