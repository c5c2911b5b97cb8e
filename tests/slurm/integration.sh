#!/usr/bin/env bash
# Runs the README's Slurm recipe on a real one-node Slurm: starts munge,
# slurmctld and slurmd from Debian's slurm-wlm with a throwaway config,
# submits examples/slurm/migrate_array.sbatch as a 4-task array over a folder
# of checkpoints, and checks that every file was migrated exactly once.
# Stops the daemons it started. Needs root (CI runs it from .ci/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

for tool in munged slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null || { echo "slurm integration: $tool is missing (apt-get install slurm-wlm munge)"; exit 1; }
done

work=$(mktemp -d /tmp/ckptkit-slurm.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

# munge: a key, then the daemon as the munge user (unless one already runs).
if ! munge -n >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
  install -d -o munge -g munge -m 0755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  # The pid file must be somewhere the munge user can write.
  rm -f /run/munge/ckptkit-munged.pid
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/ckptkit-munged.pid
  for _ in $(seq 50); do [[ -s /run/munge/ckptkit-munged.pid ]] && break; sleep 0.1; done
  pids+=("$(cat /run/munge/ckptkit-munged.pid)")
fi
munge -n | unmunge >/dev/null

host=$(hostname -s)
node=$(slurmd -C | head -n 1)
mkdir -p "$work/state" "$work/spool" "$work/logs"
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=ckptkit
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=${work}/state
SlurmdSpoolDir=${work}/spool
SlurmctldPidFile=${work}/slurmctld.pid
SlurmdPidFile=${work}/slurmd.pid
SlurmctldLogFile=${work}/logs/slurmctld.log
SlurmdLogFile=${work}/logs/slurmd.log
${node}
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -f "$SLURM_CONF"
for _ in $(seq 100); do [[ -s "$work/slurmctld.pid" ]] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do [[ -s "$work/slurmd.pid" ]] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 100); do
  sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 0.2
done
sinfo

# A folder of checkpoints, the bundle, and the README's job.
data="$work/experiments"
mkdir -p "$data/run_a" "$data/run_b/nested"
for i in 0 1 2 3 4; do cp tests/fixtures/migration_empty.ckpt "$data/run_a/epoch_$i.ckpt"; done
for i in 0 1 2 3; do cp tests/fixtures/migration_after_foo.ckpt "$data/run_b/nested/step_$i.ckpt"; done
cp tests/fixtures/migration_empty.ckpt "$data/run_b/last.ckpt"
deno bundle --quiet --platform deno -o "$work/ckptkit.js" cli.ts

export CKPTKIT="deno run -A $work/ckptkit.js"
export CKPTKIT_MIGRATE_ARGS="--migrations $repo/tests/migrations/first_group"
cd "$work"
sbatch --wait --array=0-3 --output="$work/logs/task-%a.out" "$repo/examples/slurm/migrate_array.sbatch" "$data"
cd "$repo"

status=0
total=0
for ckpt in $(find "$data" -name '*.ckpt' ! -name '*-v*' | sort); do
  total=$((total + 1))
  stem=${ckpt%.ckpt}
  backups=$(find "$(dirname "$ckpt")" -maxdepth 1 -name "$(basename "$stem")-v*.ckpt" | wc -l)
  mentions=$(cat "$work"/logs/task-*.out | grep -c "^migrated  *${ckpt}:" || true)
  if [[ "$backups" != 1 || "$mentions" != 1 ]]; then
    echo "slurm integration: $ckpt has $backups backups and was migrated $mentions times"
    status=1
  fi
  deno run -A cli.ts check "$ckpt" --migrations tests/migrations/first_group >/dev/null || {
    echo "slurm integration: $ckpt is not up to date"
    status=1
  }
done
cat "$work"/logs/task-*.out
if [[ "$total" != 10 ]]; then echo "slurm integration: expected 10 checkpoints, found $total"; status=1; fi
[[ "$status" == 0 ]] && echo "slurm integration: 4 tasks migrated each of $total checkpoints exactly once"
exit "$status"
