#!/usr/bin/env bash
# Copied from ../shared/tools/slurm/start-slurm.sh (measured on the development machine) so that CI has it on a clean
# clone; coordinator/tests/slurm_real.rs runs it. Keep in step with the original.
# start-slurm.sh - bring up a single-node Slurm "cluster" (munged + slurmctld + slurmd)
# without systemd. Idempotent: daemons already running are left alone.
# Needs root (slurmd must run as root; apt install needs root).
# Clients then need:  export SLURM_CONF=$SLURM_DIR/etc/slurm.conf   (or: . $SLURM_DIR/env.sh)
# Env knobs: SLURM_DIR (default /tmp/single-node-slurm), SLURM_CTLD_PORT (6817), SLURM_SLURMD_PORT (6818),
#            SLURM_READY_TIMEOUT (60 s), SLURM_EXTRA_CONF (extra lines appended to slurm.conf).
set -euo pipefail

D=${SLURM_DIR:-/tmp/single-node-slurm}
CTLD_PORT=${SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_SLURMD_PORT:-6818}
READY_TIMEOUT=${SLURM_READY_TIMEOUT:-60}
CONF=$D/etc/slurm.conf
SOCK=$D/run/munge.socket.2

log() { echo "[start-slurm] $*" >&2; }
# alive PIDFILE NAME: the pid file names a live process called NAME (guards against stale/reused pids)
alive() { [[ -s $1 ]] && [[ $(cat "/proc/$(cat "$1")/comm" 2>/dev/null) == "$2" ]]; }

[[ $(id -u) -eq 0 ]] || { log "must run as root"; exit 1; }

# 0. install (Debian/Ubuntu) if missing
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v munged >/dev/null || ! command -v sinfo >/dev/null; then
  log "installing slurm + munge via apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# 1. directories (munged rejects group/world-writable dirs on its socket/key/log paths)
umask 022
mkdir -p "$D"/{etc,run,log,munge,state/ctld,state/d}
chmod 0755 "$D" "$D/run" "$D/log"
chmod 0700 "$D/munge"

# 2. munge key + munged (run as root, key owned by root, private socket)
KEY=$D/munge/munge.key
if [[ ! -s $KEY ]]; then
  if command -v mungekey >/dev/null; then mungekey --create --keyfile="$KEY"
  else dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none; fi
  chmod 0400 "$KEY"
fi
if alive "$D/run/munged.pid" munged; then
  log "munged already running (pid $(cat "$D/run/munged.pid"))"
else
  rm -f "$SOCK" "$SOCK.lock" "$D/run/munged.pid"
  munged --force --socket="$SOCK" --key-file="$KEY" --pid-file="$D/run/munged.pid" \
         --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
fi
for i in $(seq 1 50); do
  munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 && break
  [[ $i -eq 50 ]] && { log "munged not answering; see $D/log/munged.log"; exit 1; }
  sleep 0.1
done

# 3. slurm.conf (node shape from slurmd -C; rewritten only if it changed)
HOST=$(hostname -s)
read -r CPUS SOCKETS CORES THREADS MEM < <(slurmd -C | head -1 | tr ' ' '\n' | awk -F= '
  $1=="CPUs"{c=$2} $1=="SocketsPerBoard"{s=$2} $1=="CoresPerSocket"{k=$2}
  $1=="ThreadsPerCore"{t=$2} $1=="RealMemory"{m=$2} END{print c,s,k,t,m}')
cat > "$CONF.new" <<CONF_END
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$D/state/ctld
SlurmdSpoolDir=$D/state/d
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
${SLURM_EXTRA_CONF:-}
CONF_END
CHANGED=0
if cmp -s "$CONF.new" "$CONF"; then rm -f "$CONF.new"; else mv "$CONF.new" "$CONF"; CHANGED=1; fi
export SLURM_CONF=$CONF
echo "export SLURM_CONF=$CONF" > "$D/env.sh"

# 4. daemons (both daemonize and write their pid files)
if alive "$D/run/slurmctld.pid" slurmctld; then
  log "slurmctld already running (pid $(cat "$D/run/slurmctld.pid"))"
  if (( CHANGED )); then log "slurm.conf changed: scontrol reconfigure"; scontrol reconfigure; fi
else
  slurmctld -f "$CONF"
fi
if alive "$D/run/slurmd.pid" slurmd; then log "slurmd already running (pid $(cat "$D/run/slurmd.pid"))"
else slurmd -f "$CONF"; fi

# 5. wait until the node is schedulable
st=
for i in $(seq 1 $((READY_TIMEOUT * 5))); do
  st=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null || true)
  case $st in idle|mixed|allocated|completing) log "ready: node $HOST is $st ($D/env.sh sets SLURM_CONF)"; exit 0;; esac
  if [[ $st == down* || $st == drain* ]] && (( i % 25 == 0 )); then
    scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true
  fi
  sleep 0.2
done
log "timed out waiting for node (state='$st'); logs in $D/log"; exit 1
