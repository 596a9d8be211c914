#!/usr/bin/env bash
# Runs the fuzz targets one at a time, each for a bounded time (fuzz/README.md).
#
#   fuzz/run.sh                  # every target
#   fuzz/run.sh keys oaep        # only these
#   SECONDS_PER_TARGET=60 fuzz/run.sh
#
# Environment: SECONDS_PER_TARGET (default 600), SANITIZER (none; `address` for ASan),
# NICE (19), LIBFUZZER_FLAGS (extra flags, e.g. "-runs=10000000").
#
# One libFuzzer process per target and no -jobs/-workers flag: libFuzzer's default is a
# single in-process fuzzer (-jobs=1 would fork a child that logs to fuzz-0.log instead).
# New corpus entries go to fuzz/work/<target> (not committed); fuzz/corpus/<target> holds
# the committed seeds and is only read. Crashes land in fuzz/artifacts/<target>/; logs and a
# summary (target, executions, cov, ft, seconds, result) in fuzz/logs/.
set -uo pipefail
cd "$(dirname "$0")"

seconds=${SECONDS_PER_TARGET:-600}
sanitizer=${SANITIZER:-none}
niceness=${NICE:-19}
extra=${LIBFUZZER_FLAGS:-}

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

mkdir -p logs work
summary=logs/summary.tsv
[ -f "$summary" ] || printf 'date\ttarget\texecs\tcov\tft\tcorpus\tseconds\tresult\n' > "$summary"

# Build everything first, so the time below is fuzzing time only.
nice -n "$niceness" cargo +nightly fuzz build -s "$sanitizer" -a || exit 1

failed=0
for target in "${targets[@]}"; do
  mkdir -p "work/$target" "corpus/$target"
  log="logs/$target.log"
  start=$(date +%s)
  # shellcheck disable=SC2086
  nice -n "$niceness" cargo +nightly fuzz run -s "$sanitizer" -a "$target" \
    "work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $extra \
    > "$log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
  if [ $status -eq 0 ]; then result=ok; else result="FAILED($status)"; failed=1; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$elapsed" "$result" | tee -a "$summary"
done
exit $failed
