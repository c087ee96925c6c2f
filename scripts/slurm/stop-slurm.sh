#!/usr/bin/env bash
# Copied from ../shared/tools/slurm/stop-slurm.sh (measured on the development machine) so that CI has it on a clean
# clone; coordinator/tests/slurm_real.rs runs it. Keep in step with the original.
# stop-slurm.sh - stop what start-slurm.sh started (by pid file only, never by name). Idempotent.
# --purge additionally deletes state, logs, config and the munge key.
set -uo pipefail

D=${SLURM_DIR:-/tmp/single-node-slurm}
export SLURM_CONF=$D/etc/slurm.conf
log() { echo "[stop-slurm] $*" >&2; }
alive() { [[ -s $1 ]] && [[ $(cat "/proc/$(cat "$1")/comm" 2>/dev/null) == "$2" ]]; }

stop_pidfile() {   # $1 = process name, $2 = pidfile
  local pf=$2 pid
  alive "$pf" "$1" || { rm -f "$pf"; return 0; }
  pid=$(cat "$pf")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 ($pid) ignored TERM, sending KILL"; kill -KILL "$pid"; fi
  rm -f "$pf"; log "stopped $1 ($pid)"
}

# cancel jobs first so no slurmstepd / job processes outlive slurmd
if alive "$D/run/slurmctld.pid" slurmctld && [[ -f $SLURM_CONF ]]; then
  ids=$(squeue -h -o %F 2>/dev/null | sort -u)
  if [[ -n $ids ]]; then
    log "cancelling jobs: $(echo $ids)"; scancel $ids
    for _ in $(seq 1 50); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.2; done
  fi
fi

stop_pidfile slurmd    "$D/run/slurmd.pid"
stop_pidfile slurmctld "$D/run/slurmctld.pid"
stop_pidfile munged    "$D/run/munged.pid"
rm -f "$D/run/munge.socket.2" "$D/run/munge.socket.2.lock"

if [[ ${1:-} == --purge ]]; then
  rm -rf "$D/state" "$D/log" "$D/etc" "$D/run" "$D/munge" "$D/env.sh"; log "purged $D"
fi
exit 0
