#!/usr/bin/env bash
# One-node Slurm cluster on localhost, for tests.
#
#   slurm.sh start DIR   install slurm-wlm + munge if missing, start munged,
#                        slurmctld and slurmd with all state under DIR, wait
#                        until the node is idle. On success prints on stdout
#                        the line the caller needs:  export SLURM_CONF=DIR/slurm.conf
#                        (so `eval "$(slurm.sh start DIR)"` works).
#   slurm.sh stop DIR    stop the daemons started by `start DIR`.
#
# On failure `start` stops what it started, prints the daemons' logs on
# stderr, and its last stderr line is "slurm.sh: <one-line reason>"; exit 1.
#
# Environment: SLURM_START_TIMEOUT (s, default 60), SLURMCTLD_PORT (6817),
#              SLURMD_PORT (6818), SLURM_MIN_JOB_AGE (s a finished job stays
#              visible in slurmctld, default 3600; see the note in slurm.conf).
set -u -o pipefail

PROG=slurm.sh
TIMEOUT=${SLURM_START_TIMEOUT:-60}
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-3600}
STOPPED=()

die() { echo "$PROG: $*" >&2; exit 1; }

usage() { echo "usage: $PROG start|stop DIR" >&2; exit 2; }

# alive PID: running and not a zombie (an unreaped zombie still answers kill -0).
alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pidfile NAME FILE: TERM, wait up to 10 s, then KILL.
stop_pidfile() {
  local name=$1 file=$2 pid i
  [ -s "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null)
  case $pid in '' | *[!0-9]*) rm -f "$file"; return 0 ;; esac
  # Only signal it if it is still the program we started.
  if alive "$pid" && grep -q "$name" "/proc/$pid/comm" 2>/dev/null; then
    STOPPED+=("$pid")
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      echo "$PROG: $name ($pid) ignored SIGTERM, killing it" >&2
      kill -KILL "$pid" 2>/dev/null
      for i in $(seq 20); do alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$file"
}

# slurmstepd processes of this cluster (they inherit slurmd's environment,
# which holds our SLURM_CONF). Fallback only: the scancel in do_stop normally
# has ended them already.
kill_stepds() {
  local p
  for p in $(pgrep -x slurmstepd 2>/dev/null); do
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$CONF"; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
}

do_stop() {
  if [ -f "$CONF" ] && [ -s "$RUN/slurmctld.pid" ]; then
    # Cancel what is still queued/running so no slurmstepd or job is left.
    local i ids
    ids=$(SLURM_CONF=$CONF timeout 5 squeue -h -o %A 2>/dev/null | sort -u)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && SLURM_CONF=$CONF timeout 10 scancel --quiet $ids >/dev/null 2>&1
    for i in $(seq 50); do
      [ -z "$(SLURM_CONF=$CONF timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pidfile slurmd "$RUN/slurmd.pid"
  stop_pidfile slurmctld "$RUN/slurmctld.pid"
  kill_stepds
  stop_pidfile munged "$RUN/munged.pid"
  # The daemons are gone; give init a moment to reap their zombies so a
  # `pgrep slurm` right after stop comes back empty (cosmetic, max 5 s).
  local n p left
  for n in $(seq 50); do
    left=0
    for p in "${STOPPED[@]}"; do [ -e "/proc/$p" ] && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  return 0
}

# why NAME: the daemon's last fatal (else error) log line, without timestamp.
why() {
  local f=$LOG/$1.log l
  l=$(grep -E 'fatal|Error' "$f" 2>/dev/null | tail -n1)
  [ -n "$l" ] || l=$(grep -E 'error' "$f" 2>/dev/null | grep -v 'pmix\|PMIx\|MPI\|state file\|NOTE: Trying' | tail -n1)
  [ -n "$l" ] || l="no error logged, see the logs above"
  sed 's/^\[[^]]*\] //; s/^[0-9-]* [0-9:]* [+0-9]* //' <<<"$l" | tr -s ' ' | cut -c1-200
}

fail() {
  # Print logs, clean up, and end with the one-line reason.
  local reason=$*
  local f
  for f in "$LOG/slurmctld.log" "$LOG/slurmd.log" "$LOG/munged.log"; do
    if [ -s "$f" ]; then
      echo "----- $f (last 40 lines) -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
  do_stop
  die "$reason"
}

install_packages() {
  local missing=() p
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "slurm-wlm/munge not installed and not root to install them"
  command -v apt-get >/dev/null || die "slurm-wlm/munge not installed and no apt-get"
  echo "$PROG: installing slurm-wlm munge (missing: ${missing[*]})" >&2
  apt-get update -qq >/dev/null || die "apt-get update failed"
  # On a host with an init system the packages would start and enable their own munged,
  # slurmctld and slurmd: a policy-rc.d that refuses every start keeps them off.
  local policy=/usr/sbin/policy-rc.d placed=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && placed=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge \
    >"${TMPDIR:-/tmp}/slurm-apt.$$.log" 2>&1 \
    || { tail -n 20 "${TMPDIR:-/tmp}/slurm-apt.$$.log" >&2; rm -f "${TMPDIR:-/tmp}/slurm-apt.$$.log"; [ -z "$placed" ] || rm -f "$policy"; die "apt-get install slurm-wlm munge failed"; }
  rm -f "${TMPDIR:-/tmp}/slurm-apt.$$.log"
  [ -z "$placed" ] || rm -f "$policy"
}

do_start() {
  install_packages
  local b
  for b in munged mungekey munge slurmctld slurmd sinfo sbatch scontrol; do
    command -v "$b" >/dev/null || die "$b not found after install"
  done

  # A previous run in the same DIR: stop it first (re-runnable).
  do_stop
  mkdir -p "$DIR" "$RUN" "$LOG" "$DIR/state" "$DIR/spool" "$MUNGE" "$DIR/logs" \
    || die "cannot create directories under $DIR"
  chmod 755 "$MUNGE" # munged wants the socket dir world-executable, not writable
  rm -f "$LOG"/*.log "$DIR/jobcomp.txt"

  # --- munge: own key and socket under DIR, so the system munge is untouched.
  if [ ! -s "$MUNGE/munge.key" ]; then
    mungekey --create --keyfile="$MUNGE/munge.key" 2>/dev/null \
      || dd if=/dev/urandom of="$MUNGE/munge.key" bs=1 count=1024 2>/dev/null \
      || die "cannot create munge key"
  fi
  chown root:root "$MUNGE/munge.key"; chmod 600 "$MUNGE/munge.key"
  rm -f "$MUNGE/munge.socket.2" "$MUNGE/munge.socket.2.lock"
  # --force: accept a DIR below a group/world-writable (non-sticky) folder,
  # which munged otherwise refuses ("Logfile is insecure").
  munged --force --socket="$MUNGE/munge.socket.2" --key-file="$MUNGE/munge.key" \
    --pid-file="$RUN/munged.pid" --log-file="$LOG/munged.log" \
    --seed-file="$MUNGE/munged.seed" >>"$LOG/munged.log" 2>&1 \
    || fail "munged failed to start: $(why munged)"
  munge -n -S "$MUNGE/munge.socket.2" 2>/dev/null | unmunge -S "$MUNGE/munge.socket.2" >/dev/null 2>&1 \
    || fail "munge credential round-trip failed"

  # --- slurm.conf
  local node cpus mem boards spb cps tpc line
  node=$(hostname -s 2>/dev/null) ; [ -n "$node" ] || node=localhost
  # What slurmd itself detects, so the node is not drained for a mismatch.
  line=$(slurmd -C 2>/dev/null | head -n1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$line")
  boards=$(sed -n 's/.* Boards=\([0-9]*\).*/\1/p' <<<"$line")
  spb=$(sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$line")
  cps=$(sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$line")
  tpc=$(sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$line")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$cpus" ] || cpus=$(nproc)
  [ -n "$mem" ] || mem=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
  local topo="CPUs=$cpus"
  if [ -n "$boards" ] && [ -n "$spb" ] && [ -n "$cps" ] && [ -n "$tpc" ]; then
    topo="CPUs=$cpus Boards=$boards SocketsPerBoard=$spb CoresPerSocket=$cps ThreadsPerCore=$tpc"
  fi
  # SlurmctldHost must be this host's short name (slurmctld refuses to run
  # otherwise: "This host (...) not a valid controller"), but with the
  # addresses given as 127.0.0.1 the name need not resolve.
  cat >"$CONF" <<EOF
# Generated by $PROG for a one-node test cluster; everything lives under $DIR.
ClusterName=localtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE/munge.socket.2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$DIR/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
MailProg=/bin/true
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# How long finished jobs stay in slurmctld (scontrol show job, squeue -t all,
# sbatch --wait's exit code): longer than any array runs, so no task is purged early.
MinJobAge=$MIN_JOB_AGE
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node $topo RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$DIR/plugstack.conf"  # don't pick up /etc/slurm/plugstack.conf
  # slurmd 22.05 always loads a cgroup plugin (CgroupPlugin=disabled only exists from 23.02 on);
  # cgroup/v1 loads fine here even though task/none + proctrack/linuxproc never use it.
  cat >"$DIR/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
EOF

  export SLURM_CONF=$CONF
  # -c: clear old state (jobs of a previous run); -i: ignore bad state files.
  slurmctld -c -i -f "$CONF" >>"$LOG/slurmctld.log" 2>&1 || fail "slurmctld failed to start: $(why slurmctld)"
  slurmd -f "$CONF" -N "$node" >>"$LOG/slurmd.log" 2>&1 || fail "slurmd failed to start: $(why slurmd)"

  local t0=$SECONDS st=""
  while :; do
    st=$(timeout 5 sinfo -h -n "$node" -o %t 2>/dev/null | head -n1)
    case $st in idle | mix | alloc) break ;; esac
    for b in slurmctld slurmd munged; do
      local pid
      pid=$(cat "$RUN/$b.pid" 2>/dev/null)
      if [ -z "$pid" ] || ! alive "$pid"; then
        # slurmd may take a moment to write its pid file after forking.
        if [ $((SECONDS - t0)) -ge 3 ]; then fail "$b exited during startup: $(why "$b")"; fi
      fi
    done
    if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
      fail "node $node not idle after ${TIMEOUT}s (state: ${st:-no answer from slurmctld})"
    fi
    sleep 0.5
  done
  echo "$PROG: node $node idle ($cpus CPUs, ${mem} MB) after $((SECONDS - t0))s" >&2
  echo "export SLURM_CONF=$CONF"
}

[ $# -eq 2 ] || usage
CMD=$1
case $2 in /*) DIR=$2 ;; *) DIR=$(pwd)/$2 ;; esac
DIR=${DIR%/}
case $DIR in *[[:space:]]* | *'#'*) die "DIR must not contain spaces or '#' (it goes into slurm.conf): $DIR" ;; esac
CONF=$DIR/slurm.conf
RUN=$DIR/run
LOG=$DIR/log
MUNGE=$DIR/munge

case $CMD in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
