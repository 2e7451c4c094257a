#!/usr/bin/env bash
# Start a single-node Slurm (slurmctld + slurmd on this machine, munge auth) for tests and CI.
# Debian's slurm-wlm and munge; no systemd needed; no cgroups (proctrack/linuxproc, task/none).
# Run as root. Idempotent: installs what is missing, rewrites the config, (re)starts only daemons
# that are not running, then waits until the node is idle. Prints "slurm ready" on success.
#
#   sudo scripts/slurm-setup.sh          # then: sinfo, sbatch, squeue ...
#   SLURM_SETUP_STOP=1 scripts/slurm-setup.sh   # stop the daemons again
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "slurm-setup.sh: must run as root (it installs packages and starts daemons)" >&2
  exit 1
fi

pidof_exact() { pgrep -x "$1" 2>/dev/null || true; }

if [ "${SLURM_SETUP_STOP:-}" = 1 ]; then
  for d in slurmd slurmctld munged; do
    for p in $(pidof_exact "$d"); do kill "$p" || true; done
  done
  for _ in $(seq 100); do
    [ -z "$(pidof_exact slurmd)$(pidof_exact slurmctld)$(pidof_exact munged)" ] && break
    sleep 0.1
  done
  echo "slurm stopped"
  exit 0
fi

missing=()
for p in slurm-wlm munge slurm-client; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  # No init system here: keep the package scripts from trying to start services themselves.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi

# --- munge ---------------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge
if [ -z "$(pidof_exact munged)" ]; then
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
munge -n </dev/null | unmunge >/dev/null || { echo "munge does not work" >&2; exit 1; }

# --- slurm.conf ------------------------------------------------------------------------------------
host="$(hostname -s)"
# The node line as slurmd sees this machine (CPUs, sockets, cores, memory), so slurmd accepts it.
node_line="$(slurmd -C | head -1)"
conf_dir=/etc/slurm
mkdir -p "$conf_dir" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /run/slurm
new_conf="$(mktemp)"
cat >"$new_conf" <<CONF
# Written by scripts/slurm-setup.sh: one node ($host) running both daemons, for tests.
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
changed=0
if ! cmp -s "$new_conf" "$conf_dir/slurm.conf"; then
  mv "$new_conf" "$conf_dir/slurm.conf"
  chmod 644 "$conf_dir/slurm.conf"
  changed=1
else
  rm -f "$new_conf"
fi

# --- daemons -------------------------------------------------------------------------------------
if [ "$changed" = 1 ]; then
  for d in slurmd slurmctld; do
    for p in $(pidof_exact "$d"); do kill "$p" || true; done
  done
  for _ in $(seq 50); do
    [ -z "$(pidof_exact slurmd)$(pidof_exact slurmctld)" ] && break
    sleep 0.2
  done
fi
[ -z "$(pidof_exact slurmctld)" ] && /usr/sbin/slurmctld
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
[ -z "$(pidof_exact slurmd)" ] && /usr/sbin/slurmd

# Wait for the node to register; bring it back if an earlier run left it down or drained.
for _ in $(seq 150); do
  state="$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1)"
  case "$state" in
  idle | mixed | allocated | completing) break ;;
  down* | drain* | fail*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
state="$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1)"
case "$state" in
idle | mixed | allocated | completing) ;;
*)
  echo "slurm node $host is '$state', not usable. Logs: /var/log/slurm/" >&2
  tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  exit 1
  ;;
esac
echo "slurm ready: node $host ($state), $(sinfo -h -o '%c CPUs, partition %P')"
