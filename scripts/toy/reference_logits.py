"""Writes the trainer's logits for SPaR-toy on two training conversations, with the sha256 of the
weights they came from, so test/unit/toy/export.test.ts can check that the lab's CPU reference
computes the same (relative error <= 1e-4): proof that the export is right.

    /usr/bin/python3 scripts/toy/reference_logits.py --model public/models/spar-toy --data /tmp/toy-data \
        --out test/fixtures/spar-toy-logits.json
"""
import argparse, hashlib, json, os, sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from train import Llama, load_data, load_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, 'config.json')))
    weights = os.path.join(a.model, 'model.safetensors')
    model = Llama(cfg)
    load_safetensors(weights, model)
    model.eval()
    tokens, _, _, examples = load_data(a.data)
    cases = []
    with torch.no_grad():
        for i in (0, 1):
            off, n, _ = examples[i]
            ids = torch.from_numpy(tokens[off:off + min(n, 96)])[None]
            logits = model(ids)[0]
            positions = [0, ids.shape[1] // 2, ids.shape[1] - 1]
            cases.append({'tokens': ids[0].tolist(), 'positions': positions, 'logits': [[round(x, 6) for x in logits[p].tolist()] for p in positions]})
    sha = hashlib.sha256(open(weights, 'rb').read()).hexdigest()
    json.dump({'model': 'SPaR-toy', 'weights_sha256': sha, 'cases': cases}, open(a.out, 'w'))


if __name__ == '__main__':
    main()
