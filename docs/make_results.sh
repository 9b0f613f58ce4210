#!/usr/bin/env bash
# Regenerates docs/results.md: the small-scale experiments on the synthetic benchmark (2-core CPU: about
# a minute per run). Runs are cached under viewadapt-experiments/runs (keyed by their config and shared between
# experiments), so a re-run only trains what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
experiments=${EXPERIMENTS:-"table7 table2 table6 fig6 ablation viewshift fig7"}
seeds=${SEEDS:-3}
mkdir -p docs/results
{
  echo "# Measured results"
  echo
  echo "Regenerate with \`bash docs/make_results.sh\` (\`EXPERIMENTS\`, \`SEEDS\` to choose). Setting:"
  echo "\`src/viewadapt/configs/experiments-small.yaml\`. This is the synthetic benchmark at small scale, models"
  echo "trained from scratch, not the paper's datasets: the tables test whether each claim survives here."
  echo "Runs whose settings coincide are trained once and shared (the method's defaults are a row of most"
  echo "tables), so those rows are identical across tables. SPGAN and CoGAN are not built (see the README)."
  echo
} > docs/results.md
for e in $experiments; do
  viewadapt experiment "$e" -c experiments-small --seeds "$seeds" --out viewadapt-experiments -q > /dev/null
  sed -e "s#](cmc.png)#](results/${e}_cmc.png)#" -e "s#](sweep.png)#](results/${e}_sweep.png)#" -e 's/^# /## /' \
    "viewadapt-experiments/$e/results.md" >> docs/results.md
  echo >> docs/results.md
  cp "viewadapt-experiments/$e/cmc.png" "docs/results/${e}_cmc.png"
  [ -f "viewadapt-experiments/$e/sweep.png" ] && cp "viewadapt-experiments/$e/sweep.png" "docs/results/${e}_sweep.png"
done
cat docs/results-reading.md >> docs/results.md
