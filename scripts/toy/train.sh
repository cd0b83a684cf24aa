#!/usr/bin/env bash
# Trains SPaR-toy as shipped in public/models/spar-toy, from nothing, on the CPU (Debian's
# python3-torch: apt-get install -y python3-torch). About an hour on 2 cores. Three stages, each
# on fresh toy-world data: the three roles; more refinement; refinement plus copy drills (a
# 1M-parameter model learns to copy slowly, and refining is mostly copying).
#   bash scripts/toy/train.sh [model-dir] [data-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-public/models/spar-toy}
DATA=${2:-/tmp/spar-toy-data}
PY=/usr/bin/python3
rm -f "$MODEL/model.safetensors"
npm run -s cli -- toy-data --model "$MODEL" --data "$DATA/1" --count 3000 --seed 1
$PY scripts/toy/train.py --model "$MODEL" --data "$DATA/1" --seed 1 --lr 2e-3 --batch-tokens 2048 --save-every 40 --stop-at 480
npm run -s cli -- toy-data --model "$MODEL" --data "$DATA/2" --count 2000 --seed 2 --mix 1,1,2
$PY scripts/toy/train.py --model "$MODEL" --data "$DATA/2" --init "$MODEL/model.safetensors" --seed 2 --lr 1.5e-3 --batch-tokens 1536 --stop-at 250
npm run -s cli -- toy-data --model "$MODEL" --data "$DATA/3" --count 1400 --seed 3 --mix 1,1,2,2
$PY scripts/toy/train.py --model "$MODEL" --data "$DATA/3" --init "$MODEL/model.safetensors" --seed 3 --lr 1.2e-3 --batch-tokens 1536
$PY scripts/toy/reference_logits.py --model "$MODEL" --data "$DATA/1" --out test/fixtures/spar-toy-logits.json
npm run -s cli -- toy-eval --model "$MODEL" --count 40 --seed 1
