#!/usr/bin/env bash
# Regenerates docs/results.md: the paper's experiments (its method as printed under every row) and the
# cameras table, on the synthetic benchmark with the ImageNet-pretrained EfficientNet-Lite0/Lite1 pair
# (experiments-pretrained, 96 x 48; 5 to 20 minutes per run on one thread of a 2-core CPU), then on real
# crops, CUHK03 camera pair 1 (cuhk03_pair1-cpu; DATA_ROOT=the folder holding cuhk03_labeled, see
# docs/datasets.md; needed only to train).
# Runs are cached under viewadapt-experiments/<config>/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing. Each line of RUNS: experiment, seeds, settings and
# methods (each comma-separated, by the keys `viewadapt experiment list` gives them; all: every one), and
# the config when it is not experiments-pretrained.
# Every run an experiment publishes leaves a small record in docs/results/records (config, metrics, seed,
# code version, machine; no weights), and REPORT_ONLY=1 rebuilds the tables from those records alone,
# training nothing (a row then says how many of its seeds are recorded).
#
# Each line's table is kept in docs/results/sections/ once its experiment has run, and docs/results.md is
# put together from those sections (in the order of ALL, then any other line of RUNS); what they say is
# read in docs/findings.md, whose figures (and README.md's, guide.md's) are filled in from the same
# records at the end (viewadapt.experiments.publish). So a RUNS naming some lines rewrites only their
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
strangers 3 all all
new_people 3 all all
cameras 3 all all cuhk03_pair1-cpu
new_people 3 all all cuhk03_pair1-cpu
table7 3 all ours,no_adaptation,softmax,siamese cuhk03_pair1-cpu
table6 3 all ours,shared,siamese cuhk03_pair1-cpu"
RUNS=${RUNS-$ALL}
sections=docs/results/sections
mkdir -p "$sections"

section() {  # the file one line's table is kept in
  local IFS=' '
  set -- $1
  echo "$sections/$1-s$2-${3//,/_}-${4//,/_}${5:+-$5}.md"
}

while read -r e seeds settings methods config; do
  [ -n "$e" ] || continue
  config=${config:-experiments-pretrained}
  out=viewadapt-experiments/${config#experiments-}
  choice=()
  if [ "$settings" != all ]; then choice+=(--settings ${settings//,/ }); fi
  if [ "$methods" != all ]; then choice+=(--methods ${methods//,/ }); fi
  if [ -n "${REPORT_ONLY-}" ]; then choice+=(--report-only); fi
  if [ -n "${DATA_ROOT-}" ] && [ "$config" != experiments-pretrained ]; then choice+=(--data-root "$DATA_ROOT"); fi
  viewadapt experiment "$e" -c "$config" --seeds "$seeds" "${choice[@]}" --out "$out" \
    --records docs/results/records -q > /dev/null
  file=$(section "$e $seeds $settings $methods $([ "$config" = experiments-pretrained ] || echo "$config")")
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
  echo "VI, VII, Figs. 6-7) train its method as printed under every row (\`-c paper\`'s keys); the last three"
  echo "sections ask which configuration suits which cameras, whether self-training on a new camera copes"
  echo "with crops of people labelled nowhere, and what learns from people no camera labelled (clusters)."
  echo "What the tables answer: [findings.md](findings.md)."
  echo
  echo "Not published here: the research grids of 2026-11-25 to 2026-12-02 (training recipes, the recipe"
  echo "ablation, how much of the network each view owns). Their runs were trained before runs left records,"
  echo "so their tables cannot be rebuilt from this repository; what they found, with their numbers, is in"
  echo "history.md, and \`RUNS=\"asymmetry 3 few_shot all\" bash docs/make_results.sh\` (or recipes,"
  echo "recipe_ablation) measures them again. The first measurement of the paper's tables (the paper's recipe,"
  echo "an earlier benchmark, no records) is read claim by claim at the end of history.md."
  echo
  real=""
  { echo "$ALL"; grep -vxF -f <(echo "$ALL") <<< "$RUNS" || true; } | while read -r line; do
    if [ -n "$line" ] && [ -f "$(section "$line")" ]; then
      set -- $line
      if [ "${5-}" = cuhk03_pair1-cpu ] && [ -z "$real" ]; then
        real=1
        echo "# Real crops: CUHK03 camera pair 1"
        echo
        echo "Setting: \`src/viewadapt/configs/cuhk03_pair1-cpu.yaml\`: CUHK03's camera pair 1 (843 people seen by two"
        echo "cameras, hand-drawn boxes), the paper's Table I sizes (C_valid 100 and C_test 100 people, test set 0 of"
        echo "20), trained on 200 of the 643 training people (\`data.train_subset\`) with the same pretrained pair and"
        echo "recipe at 96 x 48, on a 2-core CPU, one thread a run. The floor, the baseline and the paired differences"
        echo "are as above; the regimes hide camera B's labels as the synthetic ones hide the gallery camera's (few"
        echo "labels: 20, or 50, of the 200 people keep theirs; new camera: none). An SP epoch shows each training"
        echo "image about once (\`train.sp_epoch=images\`), so every regime gets the same steps. The paper's CUHK03"
        echo "numbers, printed beside the rows, are over all five camera pairs (1,160 training people), at the full"
        echo "resolution, with its networks trained to convergence: what differs from these runs is the data (one"
        echo "pair, 200 training people), the size and the budget, so only the order of the rows compares."
        echo
      fi
      cat "$(section "$line")"
      echo
    fi
  done
} > "$page"
mv "$page" docs/results.md
# the figures README.md, findings.md and guide.md quote, from the same records
python -m viewadapt.experiments.publish > /dev/null
