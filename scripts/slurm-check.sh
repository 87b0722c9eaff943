#!/usr/bin/env bash
# The README's sharded runs on a real scheduler: a one-node SLURM cluster on this machine (Debian's
# slurm-wlm and munge, installed when missing) runs `profile --shard i/4` and `score --shard i/4`
# as job arrays, cancels one profile task mid-run and resubmits it (it resumes from the items it
# kept), merges both with a job that depends on the arrays, and checks the merged tables equal
# unsharded runs of the same binary, byte for byte. Not part of `make test` (it starts daemons and
# needs root); `make slurm-check` runs it. Needs the models (`make models`).
#   scripts/slurm-check.sh            WORK=/tmp/dir to keep the run's files somewhere else
set -euo pipefail
shopt -s nullglob
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ENTROSCOPE_CACHE:-$HOME/.cache/entroscope}"
WORK="${WORK:-$(mktemp -d /tmp/entroscope-slurm.XXXXXX)}"
N=4                 # shards
PROMPTS="${PROMPTS:-64}"  # prompts profiled (enough that a task is still running when cancelled)
ITEMS="${ITEMS:-16}"      # TruthfulQA questions scored
export ENTROSCOPE_DATA="$ROOT/data" ENTROSCOPE_MODELS="${ENTROSCOPE_MODELS:-$CACHE/models}"
export ENTROSCOPE_PROGRESS=0
say() { echo "slurm-check: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# 1. SLURM and munge from Debian's packages.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1 \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; }
fi

# 2. The binary, copied so that a rebuild during the run changes nothing.
say "building entroscope"
make -C "$ROOT" --no-print-directory build >/dev/null
HOST_TRIPLE="$(cargo -vV | sed -n 's/^host: //p')"
mkdir -p "$WORK/bin"
cp "${CARGO_TARGET_DIR:-$CACHE/target}/$HOST_TRIPLE/debug/entroscope" "$WORK/bin/"
BIN="$WORK/bin/entroscope"

# 3. A one-node cluster: munged, slurmctld and slurmd with a generated slurm.conf.
NODE="$(hostname -s)"
mkdir -p "$WORK/state" "$WORK/spool" /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
cat > "$WORK/slurm.conf" <<EOF
ClusterName=entroscope
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
NodeName=$NODE CPUs=$(nproc) State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$N
EOF
export SLURM_CONF="$WORK/slurm.conf"
stop_cluster() {
  for p in slurmd slurmctld; do [ -f "$WORK/$p.pid" ] && kill "$(cat "$WORK/$p.pid")" 2>/dev/null || true; done
}
trap stop_cluster EXIT
# never touch a cluster this script did not start
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
  die "slurmctld or slurmd is already running here; stop it first (this script starts its own)"
fi
slurmctld -f "$SLURM_CONF" && slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %T | grep -q idle || die "the node did not come up (see $WORK/slurmd.log)"
say "cluster up: $(sinfo -h -o '%P %D node(s) %T %c CPUs')"

# 4. The inputs and the job scripts (the README's example, with this run's paths).
cd "$WORK"
grep -v '^\s*$' "$ENTROSCOPE_DATA/entropy_lens/topics.txt" | head -n "$PROMPTS" \
  | sed 's/^/Write a short explanation of /' > prompts.txt
cat > profile.sh <<EOF
#!/bin/bash
#SBATCH --array=1-$N
#SBATCH --output=$WORK/profile-%A_%a.log
"$BIN" profile --text-file prompts.txt --shard \${SLURM_ARRAY_TASK_ID}/$N --out parts/
EOF
cat > score.sh <<EOF
#!/bin/bash
#SBATCH --array=1-$N
#SBATCH --output=$WORK/score-%A_%a.log
"$BIN" score --bench truthfulqa-mc --limit $ITEMS --shard \${SLURM_ARRAY_TASK_ID}/$N --out score/
EOF
cat > merge.sh <<EOF
#!/bin/bash
#SBATCH --output=$WORK/merge-%j.log
set -e
"$BIN" merge --dir parts --out profiles.csv
for d in score/*/; do "$BIN" merge --dir "\$d" --out "score-\$(basename "\$d").csv"; done
EOF

state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
wait_done() {  # wait until every job id given has left PENDING/RUNNING
  for _ in $(seq 1800); do
    local busy=0
    for j in "$@"; do case "$(state "$j")" in PENDING|RUNNING|CONFIGURING|COMPLETING|"") busy=1;; esac; done
    [ $busy = 0 ] && return 0; sleep 1
  done
  die "jobs $* did not finish within 30 minutes"
}

# 5. The profile array; task 2 is cancelled once it has kept a few items, then resubmitted.
A=$(sbatch --parsable profile.sh)
say "profile array $A submitted (tasks 1-$N)"
for _ in $(seq 600); do
  kept_files=(parts/part-2-of-$N.parquet.items/*.parquet); kept=${#kept_files[@]}
  [ "${kept:-0}" -ge 3 ] && break; sleep 0.2
done
[ "${kept:-0}" -ge 3 ] || die "task 2 kept no items (see $WORK/profile-${A}_2.log)"
scancel "${A}_2"
wait_done "${A}_2"
[ "$(state "${A}_2")" = CANCELLED ] || die "task ${A}_2 ended $(state "${A}_2"), not CANCELLED"
# (the run creates its table empty up front, to fail early when it cannot write it)
[ -s "parts/part-2-of-$N.parquet" ] && die "task 2 finished before it was cancelled; raise PROMPTS"
kept_files=(parts/part-2-of-$N.parquet.items/*.parquet)
say "task ${A}_2 cancelled mid-run with ${#kept_files[@]} items kept"
R=$(sbatch --parsable --array=2 profile.sh)
S=$(sbatch --parsable score.sh)
M=$(sbatch --parsable --dependency="afterany:$A,afterok:$R:$S" merge.sh)
say "resubmitted task 2 as $R, score array $S, merge $M (afterany:$A, afterok:$R:$S)"
wait_done "$A" "$R" "$S" "$M"
say "jobs:"
ok=1
for j in "$A" "$R" "$S" "$M"; do
  while read -r line; do
    id=$(sed -n 's/^JobId=\([0-9]*\).*/\1/p' <<<"$line")
    task=$(sed -n 's/.* ArrayTaskId=\([0-9]*\).*/\1/p' <<<"$line")
    name=$(sed -n 's/.* JobName=\([^ ]*\).*/\1/p' <<<"$line")
    st=$(sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p' <<<"$line")
    ex=$(sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' <<<"$line")
    echo "  job $id ($name${task:+ task $task}): $st, exit $ex" >&2
    # the one cancelled task is the point; everything else must have completed
    [ "$st" = COMPLETED ] || { [ "$j" = "$A" ] && [ "$task" = 2 ] && [ "$st" = CANCELLED ]; } || ok=0
  done < <(scontrol show job -o "$j" 2>/dev/null)
done
[ $ok = 1 ] || die "a job did not complete (logs in $WORK)"
grep -h '^resuming' profile-"${R}"_2.log >&2 || die "the resubmitted task did not resume (profile-${R}_2.log)"

# 6. The same runs unsharded, with the same binary; the merged tables must equal them.
say "unsharded runs for comparison"
"$BIN" profile --text-file prompts.txt --out whole.csv 2>/dev/null
"$BIN" score --bench truthfulqa-mc --limit "$ITEMS" --shard 1/1 --out whole-score/ >/dev/null 2>&1
for d in whole-score/*/; do "$BIN" merge --dir "$d" --out "whole-score-$(basename "$d").csv"; done
cmp profiles.csv whole.csv || die "merged profile table differs from the unsharded run"
for f in score-*.csv; do
  cmp "$f" "whole-$f" || die "$f differs from the unsharded run"
done
say "OK: profile $(($(wc -l < profiles.csv) - 1)) rows and score $(($(wc -l < "$(ls score-*.csv | head -1)") - 1)) rows, merged from $N shards (one cancelled and resumed), equal the unsharded runs byte for byte ($WORK)"
