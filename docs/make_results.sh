#!/usr/bin/env bash
# Regenerates docs/results.md: the paper's experiments (its method as printed under every row) and the
# cameras table, on the synthetic benchmark with the ImageNet-pretrained EfficientNet-Lite0/Lite1 pair
# (experiments-pretrained, 96 x 48; 5 to 20 minutes per run on one thread of a 2-core CPU).
# Runs are cached under viewadapt-experiments/pretrained/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing. Each line of RUNS: experiment, seeds, settings and
# methods (each comma-separated, by the keys `viewadapt experiment list` gives them; all: every one).
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
ALL="table7 3 all all
table6 3 all all
fig6 3 all all
table2 3 all all
fig7 3 all all
cameras 3 all all
strangers 3 all all"
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
  echo "Rebuilt from the run records in [results/records/](results/records/) by \`bash docs/make_results.sh\`"
  echo "(\`REPORT_ONLY=1\`: from the records alone, training nothing; \`RUNS\` to choose experiments, seeds,"
  echo "settings and methods). Setting: \`src/viewadapt/configs/experiments-pretrained.yaml\`: the synthetic"
  echo "benchmark (its camera shift: colour, blur, half resolution and mirrored images in the second camera) with"
  echo "the ImageNet-pretrained EfficientNet-Lite0/Lite1 pair at 96 x 48, on a 2-core CPU. Every table starts"
  echo "with the zero-shot floor (the pretrained features, no training) and carries a plain baseline, the shared"
  echo "network trained on identities and pairs (\`siamese\`), with each row's paired per-seed rank-1 difference"
  echo "from it; a row recorded for fewer seeds than its table says so. The paper's experiments (Tables II,"
  echo "VI, VII, Figs. 6-7) train its method as printed under every row (\`-c paper\`'s keys); the last two"
  echo "sections ask which configuration suits which cameras, and whether self-training on a new camera copes"
  echo "with crops of people labelled nowhere. What the tables answer: [findings.md](findings.md)."
  echo
  echo "Not published here: the research grids of 2026-11-25 to 2026-12-02 (training recipes, the recipe"
  echo "ablation, how much of the network each view owns). Their runs were trained before runs left records,"
  echo "so their tables cannot be rebuilt from this repository; what they found, with their numbers, is in"
  echo "findings.md, and \`RUNS=\"asymmetry 3 few_shot all\" bash docs/make_results.sh\` (or recipes,"
  echo "recipe_ablation) measures them again. The first measurement of the paper's tables (the paper's recipe,"
  echo "an earlier benchmark, no records) is read claim by claim at the end of findings.md."
  echo
  { echo "$ALL"; grep -vxF -f <(echo "$ALL") <<< "$RUNS" || true; } | while read -r line; do
    if [ -n "$line" ] && [ -f "$(section "$line")" ]; then
      cat "$(section "$line")"
      echo
    fi
  done
} > "$page"
mv "$page" docs/results.md
