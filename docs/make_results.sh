#!/usr/bin/env bash
# Regenerates docs/results.md: the small-scale experiments on the synthetic benchmark (2-core CPU: about
# a minute per run). Runs are cached under viewadapt-experiments/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
experiments=${EXPERIMENTS:-"table7 table2 table6 fig6 ablation viewshift fig7"}
seeds=${SEEDS:-3}
# The same benchmark with the ImageNet-pretrained pair: about 5 minutes per run, so fewer experiments and
# seeds (NAME:SEEDS).
pretrained=${PRETRAINED_EXPERIMENTS-"table6:2 table7:1"}
mkdir -p docs/results
{
  echo "# Measured results"
  echo
  echo "Regenerate with \`bash docs/make_results.sh\` (\`EXPERIMENTS\`, \`SEEDS\` and \`PRETRAINED_EXPERIMENTS\`"
  echo "to choose). Setting:"
  echo "\`src/viewadapt/configs/experiments-small.yaml\`. This is the synthetic benchmark at small scale, models"
  echo "trained from scratch, not the paper's datasets: the tables test whether each claim survives here."
  echo "Runs whose settings coincide are trained once and shared (the method's defaults are a row of most"
  echo "tables), so those rows are identical across tables. SPGAN and CoGAN are not built (see the README)."
  echo
} > docs/results.md
# table NAME CONFIG SEEDS OUT PREFIX HEADING: run (or reuse) one experiment and append its table and plots
table() {
  viewadapt experiment "$1" -c "$2" --seeds "$3" --out "$4" -q > /dev/null
  sed -e "s#](cmc.png)#](results/${5}${1}_cmc.png)#" -e "s#](sweep.png)#](results/${5}${1}_sweep.png)#" \
    -e "s/^# /$6 /" "$4/$1/results.md" >> docs/results.md
  echo >> docs/results.md
  cp "$4/$1/cmc.png" "docs/results/${5}${1}_cmc.png"
  if [ -f "$4/$1/sweep.png" ]; then cp "$4/$1/sweep.png" "docs/results/${5}${1}_sweep.png"; fi
}
for e in $experiments; do
  table "$e" experiments-small "$seeds" viewadapt-experiments "" "##"
done
if [ -n "$pretrained" ]; then
  {
    echo "## With ImageNet-pretrained backbones"
    echo
    echo "Setting: \`src/viewadapt/configs/experiments-pretrained.yaml\`, the same benchmark and budget with the"
    echo "default EfficientNet-Lite0/Lite1 pair and its real ImageNet weights, at 128 x 64."
    echo
  } >> docs/results.md
  for e in $pretrained; do
    n=${e#*:}
    if [ "$n" = "$e" ]; then n=2; fi
    table "${e%%:*}" experiments-pretrained "$n" viewadapt-experiments/pretrained pretrained_ "###"
  done
fi
cat docs/results-reading.md >> docs/results.md
