#!/usr/bin/env bash
# Upload of a 1 GB bundle to a local S3 server (moto), our S3 sink against the AWS CLI
# (`aws s3 cp`), run alternately REPS times in the same session: wall-time medians, peak RSS
# (GNU time) and the ratios. Targets (issue 7): no slower than the AWS CLI, peak RSS <= 100 MB.
# Ours is examples/upload-s3.rs, which calls `upload::deliver` (the upload phase's code path).
# Not a test: figures go to bench/README.md.
#
#   bench/upload_s3.sh [MEGABYTES=1024] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-1024}"; reps="${2:-5}"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt 'awscli==1.46.3'
cargo build --release --quiet --features bench --example upload-s3
ours="$PWD/target/release/examples/upload-s3"
work="$(mktemp -d)"
moto_pid=""
cleanup() { [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Incompressible data, like a compressed bundle.
head -c "$((mb << 20))" /dev/urandom > "$work/bundle.tar.gz"
sha=$(sha256sum "$work/bundle.tar.gz" | cut -d' ' -f1)

.venv/bin/moto_server -H 127.0.0.1 -p 0 > "$work/moto.log" 2>&1 &
moto_pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*Running on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/moto.log" | head -1)
  [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.1
done
[ -n "$port" ] || { echo "moto_server did not start:" >&2; cat "$work/moto.log" >&2; exit 1; }
endpoint="http://127.0.0.1:$port"
curl -fs -X PUT "$endpoint/bench" >/dev/null

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent

run() { # name key -> "seconds rss_kib"
  local name="$1" key="$2" t="$work/time.txt"
  if [ "$name" = ours ]; then
    /usr/bin/time -v "$ours" "$work/bundle.tar.gz" bench "$key" "$endpoint" "$sha" 2> "$t" >/dev/null
  else
    /usr/bin/time -v .venv/bin/aws --endpoint-url "$endpoint" s3 cp --only-show-errors \
      "$work/bundle.tar.gz" "s3://bench/$key" 2> "$t" >/dev/null
  fi
  local wall rss
  wall=$(awk '/Elapsed \(wall clock\)/ {n=split($NF,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$t")
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$t")
  echo "$wall $rss"
}

: > "$work/ours.txt"; : > "$work/aws.txt"
for i in $(seq 1 "$reps"); do
  run ours "ours-$i" >> "$work/ours.txt"
  run aws "aws-$i" >> "$work/aws.txt"
  # moto keeps objects in memory: drop them between rounds.
  curl -fs -X DELETE "$endpoint/bench/ours-$i" >/dev/null || true
  curl -fs -X DELETE "$endpoint/bench/aws-$i" >/dev/null || true
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
o_t=$(cut -d' ' -f1 "$work/ours.txt" | median); a_t=$(cut -d' ' -f1 "$work/aws.txt" | median)
o_r=$(cut -d' ' -f2 "$work/ours.txt" | median); a_r=$(cut -d' ' -f2 "$work/aws.txt" | median)
echo "input: ${mb} MiB random file, ${reps} alternated runs each, moto $(.venv/bin/pip show moto | sed -n 's/^Version: //p')"
echo "ours runs (s, KiB): $(tr '\n' ';' < "$work/ours.txt")"
echo "aws  runs (s, KiB): $(tr '\n' ';' < "$work/aws.txt")"
printf '%-10s %12s %14s\n' "" "median s" "peak RSS MiB"
printf '%-10s %12s %14s\n' ours "$o_t" "$((o_r / 1024))"
printf '%-10s %12s %14s\n' "aws s3 cp" "$a_t" "$((a_r / 1024))"
awk -v o="$o_t" -v a="$a_t" 'BEGIN {printf "time ratio ours/aws: %.2f (target <= 1.00)\n", o/a}'
awk -v o="$o_r" -v a="$a_r" 'BEGIN {printf "RSS ratio ours/aws: %.2f; ours %.1f MB (target <= 100 MB)\n", o/a, o*1024/1e6}'
