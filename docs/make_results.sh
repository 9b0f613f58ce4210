#!/usr/bin/env bash
# Regenerates docs/results.md: the experiments below on the synthetic benchmark with the ImageNet-pretrained
# EfficientNet-Lite0/Lite1 pair (experiments-pretrained, 96 x 48; 2 to 8 minutes per run on a 2-core CPU).
# Runs are cached under viewadapt-experiments/pretrained/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing. Each line of RUNS: experiment, seeds, settings and
# methods (each comma-separated, as `viewadapt experiment list` names and numbers them; all: every one).
# Every run an experiment publishes leaves a small record in docs/results/records (config, metrics, seed,
# code version, machine; no weights), and REPORT_ONLY=1 rebuilds the tables from those records alone,
# training nothing (a row then says how many of its seeds are recorded).
#
# Each line's table is kept in docs/results/sections/ once its experiment has run, and docs/results.md is
# put together from those sections (in the order of ALL, then any other line of RUNS); what they say is
# read, by hand, in docs/findings.md. So a RUNS naming some lines rewrites only their
# sections (`RUNS= bash docs/make_results.sh` only puts the page together again), and a line that fails
# leaves its earlier section, and docs/results.md, as they were.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="recipes 3 all all
recipe_ablation 3 all all
asymmetry 1 few_shot all
asymmetry 3 few_shot_viewpoint 1,11,3,9
asymmetry 3 few_shot 1,11,3
asymmetry 1 few_shot_viewpoint 12,14
asymmetry 3 few_shot_viewpoint 1,15
asymmetry 3 few_shot_infrared 1,11,9,3,15
asymmetry 1 few_shot_infrared 1,9,16
asymmetry 3 few_shot_colour 1,3
asymmetry 3 viper_like 1,3
asymmetry 1 viper_like 1,9,3
asymmetry 3 multi_shot 1,11,9,3
asymmetry 3 unlabeled_gallery 1,11,18,19,20,21,22,2,9,3,17
cameras 3 all all"
RUNS=${RUNS-$ALL}
out=viewadapt-experiments/pretrained
sections=docs/results/sections
mkdir -p "$sections"

section() {  # the file one line's table is kept in
  local IFS=' '
  set -- $1
  echo "$sections/$1-s$2-${3//,/_}-${4//,/_}.md"
}

while read -r e seeds settings methods; do
  [ -n "$e" ] || continue
  choice=()
  if [ "$settings" != all ]; then choice+=(--settings ${settings//,/ }); fi
  if [ "$methods" != all ]; then choice+=(--methods ${methods//,/ }); fi
  if [ -n "${REPORT_ONLY-}" ]; then choice+=(--report-only); fi
  viewadapt experiment "$e" -c experiments-pretrained --seeds "$seeds" "${choice[@]}" --out "$out" \
    --records docs/results/records -q > /dev/null
  file=$(section "$e $seeds $settings $methods")
  name=$(basename "$file" .md)  # each line's figures apart: two lines may share a setting
  sed -e "s#](\(cmc[a-z0-9_]*\).png)#](results/${name}_\1.png)#" -e "s#](\(sweep[a-z0-9_]*\).png)#](results/${name}_\1.png)#" \
    -e "s/^## /### /" -e "s/^# /## /" "$out/$e/results.md" > "$file.tmp"
  mv "$file.tmp" "$file"
  for f in $(grep -o "](results/${name}_[a-z0-9_]*.png)" "$file" | sed "s#](results/${name}_\(.*\))#\1#"); do
    cp "$out/$e/$f" "docs/results/${name}_$f"  # the figures the table shows, not an earlier call's
  done
done <<< "$RUNS"

page=docs/results.md.tmp
{
  echo "# Measured results"
  echo
  echo "Regenerate with \`bash docs/make_results.sh\` (\`RUNS\` to choose experiments, seeds, settings and methods). Setting:"
  echo "\`src/viewadapt/configs/experiments-pretrained.yaml\`: the synthetic benchmark (its camera shift: colour,"
  echo "blur, half resolution and mirrored images in the second camera) with the ImageNet-pretrained"
  echo "EfficientNet-Lite0/Lite1 pair at 96 x 48, on a 2-core CPU. Every table starts with the zero-shot floor:"
  echo "the pretrained features with no training. Runs whose settings coincide are trained once and shared."
  echo "What the tables answer, question by question: [findings.md](findings.md). The paper's own tables"
  echo "(Tables II, VI, VII, Figs. 6-7), measured on 2026-11-24 with the paper's recipe on the earlier"
  echo "benchmark and not yet again with run records, are in [results-2026-11-24.md](results-2026-11-24.md)."
  echo
  { echo "$ALL"; grep -vxF -f <(echo "$ALL") <<< "$RUNS" || true; } | while read -r line; do
    if [ -n "$line" ] && [ -f "$(section "$line")" ]; then
      cat "$(section "$line")"
      echo
    fi
  done
} > "$page"
mv "$page" docs/results.md
