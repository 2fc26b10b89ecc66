#!/usr/bin/env bash
# Consul outage recovery with peers.json, as Consul documents it: stop every
# surviving server, write the same raft/peers.json (the survivors: node id and
# server address) into each one's data dir, start them (Consul reads the file and
# deletes it); then the lost servers join again on empty data dirs. Consul warns
# that acknowledged writes may be lost and that uncommitted entries are committed,
# so writes that failed or timed out can appear.
set -euo pipefail

$SB_NODE step "stop the survivors: $SB_SURVIVORS"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; done

$SB_NODE step "write raft/peers.json listing the survivors"
peers=""
for n in $SB_SURVIVORS; do
  ip_var="SB_${n^^}_IP" data_var="SB_${n^^}_DATA"
  id=$(cat "${!data_var}/data/node-id")
  peers+="${peers:+,}{\"id\": \"$id\", \"address\": \"${!ip_var}:$SB_SERVER_PORT\", \"non_voter\": false}"
done
for n in $SB_SURVIVORS; do
  data_var="SB_${n^^}_DATA"
  echo "[$peers]" > "${!data_var}/data/raft/peers.json"
  cat "${!data_var}/data/raft/peers.json"
done

$SB_NODE step "start the survivors"
for n in $SB_SURVIVORS; do $SB_NODE start "$n"; done
$SB_NODE wait $SB_SURVIVORS

members="$SB_SURVIVORS"
for n in $SB_LOST; do
  $SB_NODE step "$n joins again on an empty data dir"
  $SB_NODE start "$n"
  members+=" $n"
  $SB_NODE wait $members
done
