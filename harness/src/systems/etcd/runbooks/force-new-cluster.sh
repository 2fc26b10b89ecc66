#!/usr/bin/env bash
# etcd recovery from the most up-to-date survivor with --force-new-cluster
# (documented, and discouraged: it drops WAL entries above the survivor's
# commit index, so writes the old majority acknowledged can be lost), then the
# other members re-added one at a time on empty data dirs, as learners where the
# version has them, promoted once caught up.
set -euo pipefail
ep() { local v="SB_${1^^}_IP"; echo "http://${!v}:$SB_CLIENT_PORT"; }
peer() { local v="SB_${1^^}_IP"; echo "http://${!v}:$SB_PEER_PORT"; }
ctl() { ETCDCTL_API=3 "$SB_ETCDCTL" --command-timeout=5s "$@"; }

$SB_NODE step "find the most up-to-date survivor"
best="" best_index=-1
for n in $SB_SURVIVORS; do
  index=$(ctl --endpoints "$(ep "$n")" endpoint status -w json 2>/dev/null | grep -o '"raftIndex":[0-9]*' | cut -d: -f2 || true)
  echo "$n: raft index ${index:-unknown}"
  if [[ -n "$index" && "$index" -gt "$best_index" ]]; then best=$n best_index=$index; fi
done
best=${best:-${SB_SURVIVORS%% *}}
echo "most up to date: $best"

$SB_NODE step "stop the survivors: $SB_SURVIVORS"
for n in $SB_SURVIVORS; do $SB_NODE stop "$n"; done

$SB_NODE step "start $best with --force-new-cluster, then again without it"
$SB_NODE start "$best" --force-new-cluster
$SB_NODE wait "$best"
$SB_NODE stop "$best"
$SB_NODE start "$best"
$SB_NODE wait "$best"

learner=()
# (the help read whole first: `grep -q` in a pipe would stop it with SIGPIPE)
help=$(ctl member add --help 2>&1 || true)
if [[ "$help" == *--learner* ]]; then learner=(--learner); fi
members="$best"
for n in $SB_NODES; do
  [[ "$n" == "$best" ]] && continue
  $SB_NODE step "re-add $n${learner:+ as a learner}"
  # etcd refuses a member change until the cluster is healthy again after the last one
  out=""
  for _ in $(seq 1 120); do
    out=$(ctl --endpoints "$(ep "$best")" member add "$n" --peer-urls "$(peer "$n")" "${learner[@]}") && break
    sleep 0.5
  done
  echo "$out"
  [[ "$out" == *" added "* ]] || { echo "member add $n did not succeed within 60 s" >&2; exit 1; }
  id=$(echo "$out" | awk '/^Member .* added/ {print $2}')
  cluster=$(echo "$out" | grep '^ETCD_INITIAL_CLUSTER=' | cut -d'"' -f2)
  data_var="SB_${n^^}_DATA"
  rm -rf "${!data_var}" && mkdir -p "${!data_var}"
  $SB_NODE start "$n" --initial-cluster="$cluster" --initial-cluster-state=existing
  if [[ ${#learner[@]} -gt 0 ]]; then
    # a learner is promoted once it has caught up with the leader
    for _ in $(seq 1 120); do
      ctl --endpoints "$(ep "$best")" member promote "$id" && break
      sleep 0.5
    done
  fi
  members+=" $n"
  $SB_NODE wait $members
done
