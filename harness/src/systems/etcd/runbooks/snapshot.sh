#!/usr/bin/env bash
# etcd disaster recovery from a snapshot, as etcd documents it: restore every
# member from the same snapshot into a fresh data dir (a new cluster: new ids,
# same names and peer URLs), then start them all. Every write acknowledged after
# the snapshot is lost by design. From 3.5.10 the restore bumps the revision and
# marks it compacted, so that no client sees revisions go backwards.
set -euo pipefail
: "${SB_SNAPSHOT:?no snapshot was taken before the loss: add a snapshot step to the scenario}"

cluster=""
for n in $SB_NODES; do
  ip_var="SB_${n^^}_IP"
  cluster+="${cluster:+,}$n=http://${!ip_var}:$SB_PEER_PORT"
done
if [[ -n "$SB_ETCDUTL" ]]; then restore=("$SB_ETCDUTL"); else restore=(env ETCDCTL_API=3 "$SB_ETCDCTL"); fi
bump=()
# (the help read whole first: `grep -q` in a pipe would stop it with SIGPIPE)
help=$("${restore[@]}" snapshot restore --help 2>&1 || true)
if [[ "$help" == *--bump-revision* ]]; then
  bump=(--bump-revision 1000000000 --mark-compacted)
fi

$SB_NODE step "stop the survivors: $SB_SURVIVORS"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; done

$SB_NODE step "restore every member from $(basename "$SB_SNAPSHOT")"
for n in $SB_NODES; do
  ip_var="SB_${n^^}_IP" data_var="SB_${n^^}_DATA"
  data="${!data_var}"
  rm -rf "$data.before-restore"
  mv "$data" "$data.before-restore"
  "${restore[@]}" snapshot restore "$SB_SNAPSHOT" --name "$n" --initial-cluster "$cluster" \
    --initial-cluster-token "splitbrain-$SB_RUN_ID-restored" \
    --initial-advertise-peer-urls "http://${!ip_var}:$SB_PEER_PORT" --data-dir "$data" "${bump[@]}"
done

$SB_NODE step "start every member on its restored data"
for n in $SB_NODES; do $SB_NODE start "$n"; done

$SB_NODE step "wait for a leader"
$SB_NODE wait $SB_NODES
