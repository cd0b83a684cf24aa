#!/usr/bin/env bash
# Trains SPaR-toy as shipped in public/models/spar-toy, from nothing, on the CPU (Debian's
# python3-torch: apt-get install -y python3-torch). About 1.5 hours on 2 cores. Five stages, each
# on fresh toy-world data: the three roles; more refinement; refinement plus copy drills (a
# 1M-parameter model learns to copy slowly, and refining is mostly copying); more refinement and
# copying, stopped part-way; a short low-rate anneal (checkpoints part-way through a stage swing
# widely: judge 92% at one, 70% forty steps later).
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
npm run -s cli -- toy-data --model "$MODEL" --data "$DATA/4" --count 1600 --seed 4 --mix 1,1,3,3
$PY scripts/toy/train.py --model "$MODEL" --data "$DATA/4" --init "$MODEL/model.safetensors" --seed 4 --lr 1e-3 --batch-tokens 1536 --save-every 40 --stop-at 560
npm run -s cli -- toy-data --model "$MODEL" --data "$DATA/5" --count 300 --seed 5 --mix 1,1,3,3
$PY scripts/toy/train.py --model "$MODEL" --data "$DATA/5" --init "$MODEL/model.safetensors" --seed 5 --lr 3e-4 --batch-tokens 1536
$PY scripts/onnx/export_llama.py --model "$MODEL"
$PY scripts/toy/reference_logits.py --model "$MODEL" --data "$DATA/4" --out test/fixtures/spar-toy-logits.json
npm run -s cli -- toy-eval --model "$MODEL" --count 40 --seed 1
