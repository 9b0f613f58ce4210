#!/usr/bin/env bash
# Regenerates docs/results.md: the experiments below on the synthetic benchmark with the ImageNet-pretrained
# EfficientNet-Lite0/Lite1 pair (experiments-pretrained, 96 x 48; 2 to 8 minutes per run on a 2-core CPU).
# Runs are cached under viewadapt-experiments/pretrained/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing; docs/results-reading.md (the reading of the
# tables, by hand) is appended as it is. Each line of RUNS: experiment, seeds, settings and methods (each
# comma-separated, as `viewadapt experiment list` names and numbers them; all: every one).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-"recipes 3 all all
recipe_ablation 3 all all
asymmetry 1 few_shot all
asymmetry 1 few_shot_colour,few_shot_viewpoint 1,3,6"}
out=viewadapt-experiments/pretrained
mkdir -p docs/results
{
  echo "# Measured results"
  echo
  echo "Regenerate with \`bash docs/make_results.sh\` (\`RUNS\` to choose experiments, seeds, settings and methods). Setting:"
  echo "\`src/viewadapt/configs/experiments-pretrained.yaml\`: the synthetic benchmark (its camera shift: colour,"
  echo "blur, half resolution and mirrored images in the second camera) with the ImageNet-pretrained"
  echo "EfficientNet-Lite0/Lite1 pair at 96 x 48, on a 2-core CPU. Every table starts with the zero-shot floor:"
  echo "the pretrained features with no training. Runs whose settings coincide are trained once and shared."
  echo "The tables of 2026-11-24, measured with the paper's recipe on the earlier benchmark, are in"
  echo "[results-2026-11-24.md](results-2026-11-24.md)."
  echo
} > docs/results.md
while read -r e seeds settings methods; do
  choice=()
  if [ "$settings" != all ]; then choice+=(--settings ${settings//,/ }); fi
  if [ "$methods" != all ]; then choice+=(--methods ${methods//,/ }); fi
  viewadapt experiment "$e" -c experiments-pretrained --seeds "$seeds" "${choice[@]}" --out "$out" -q > /dev/null
  sed -e "s#](\(cmc[a-z_]*\).png)#](results/${e}_\1.png)#" -e "s#](\(sweep[a-z_]*\).png)#](results/${e}_\1.png)#" \
    -e "s/^## /### /" -e "s/^# /## /" "$out/$e/results.md" >> docs/results.md
  echo >> docs/results.md
  for f in "$out/$e"/cmc*.png "$out/$e"/sweep*.png; do
    if [ -f "$f" ]; then cp "$f" "docs/results/${e}_$(basename "$f")"; fi
  done
done <<< "$RUNS"
cat docs/results-reading.md >> docs/results.md
